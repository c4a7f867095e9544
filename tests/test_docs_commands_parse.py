"""The README and the pages under docs/ stay true to the code: every relative link (and #anchor) leads to a file (and a
heading) that exists, every docs page is linked from the README, and every documented command line of the project's
programs parses with that program's own argument parser, in this process, without running anything.

Command lines are taken from the shell code blocks (```bash, ```sh, ```shell, ```console or a bare ```) and from inline
code spans that start with a command (abbreviations holding `...` are skipped). A line counts when it runs one of
train.py, test.py, predict.py, serve.py, export.py or a tool under datasets/, scripts/ or bench/ through python
(`python`, `python3`, `$py`, `"$venv/bin/python"`, `srun python`, `WANDB_MODE=offline python`) or torchrun. Backslash
continuations are joined; `# comments`, a trailing `&` and whatever follows `&&`, `|`, `;` or a redirection are cut off.
Shell variables become a placeholder word before shlex splits the line; one standing alone (`... --direction BtoA
$resume`, an optional flag) is dropped, one after a flag (`--name "$name"`) is its value. A `--help` line passes when
its program prints the help (exit 0).
"""
import contextlib
import functools
import importlib
import importlib.util
import io
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Callable, NamedTuple, Optional
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / 'README.md'] + sorted((ROOT / 'docs').glob('*.md'))
ENTRY_POINTS = ('train.py', 'test.py', 'predict.py', 'serve.py', 'export.py')
TOOL = re.compile(r'(datasets|scripts|bench)/\w+\.py')
SHELL_LANGUAGES = {'', 'bash', 'sh', 'shell', 'console'}
PLACEHOLDER = 'PLACEHOLDER'
OPERATORS = {'&', '&&', '|', '||', ';'}
INLINE_COMMAND = re.compile(r'\s*(\w+=\S*\s+)*(python[\d.]*|torchrun|srun)\s')  # a code span in prose that is a command


def page_name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


# ---- reading the markdown ------------------------------------------------------------------------------------------

class Block(NamedTuple):
    language: Optional[str]  # None: prose
    lines: list[tuple[int, str]]  # (1-based line number, text)


def blocks(page: Path) -> list[Block]:
    """The page split into prose and fenced code blocks, in order."""
    found, current, language = [], [], None
    for number, line in enumerate(page.read_text(encoding='utf-8').splitlines(), 1):
        fence = re.match(r'\s*(```+|~~~+)\s*([\w+-]*)', line)
        if fence:
            found.append(Block(language, current))
            current, language = [], (fence.group(2).lower() if language is None else None)
            continue
        current.append((number, line))
    found.append(Block(language, current))
    return [block for block in found if block.lines]


def prose_lines(page: Path) -> list[tuple[int, str]]:
    return [line for block in blocks(page) if block.language is None for line in block.lines]


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation other than - and _ dropped, spaces as -."""
    text = heading.strip().replace('`', '').replace('*', '').lower()
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', text)
    return re.sub(r'[^\w\- ]', '', text).replace(' ', '-')


@functools.lru_cache(maxsize=None)
def anchors(page: Path) -> frozenset[str]:
    found, seen = set(), {}
    for _, line in prose_lines(page):
        heading = re.match(r'#{1,6}\s+(.*?)\s*#*\s*$', line)
        if heading:
            anchor = github_anchor(heading.group(1))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            found.add(anchor if count == 0 else f'{anchor}-{count}')
    return frozenset(found)


LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')


def links(page: Path) -> list[tuple[int, str]]:
    """(line, target) of every markdown link and image outside code blocks and code spans."""
    found = []
    for number, line in prose_lines(page):
        outside_code = re.sub(r'`[^`]*`', '', line)
        found += [(number, match.group(1)) for match in LINK.finditer(outside_code)]
    return found


# ---- finding the command lines -------------------------------------------------------------------------------------

class Command(NamedTuple):
    page: str
    line: int
    text: str
    script: str  # as written, without a leading ./
    args: list[str]

    @property
    def id(self) -> str:
        return f'{self.page}:{self.line}'


def shell_lines(page: Path) -> list[tuple[int, str]]:
    """(first line, command) of each shell line in code blocks (continuations joined) and each inline code span."""
    found = []
    for block in blocks(page):
        if block.language is None:
            for number, line in block.lines:
                found += [(number, span) for span in re.findall(r'`([^`]+)`', line)
                          if INLINE_COMMAND.match(span) and '...' not in span]
            continue
        if block.language not in SHELL_LANGUAGES:
            continue
        pending, start = '', 0
        for number, line in block.lines:
            if not pending:
                start = number
            stripped = re.sub(r'^\s*\$ ', '', line) if not pending else line  # a console prompt
            if stripped.rstrip().endswith('\\'):
                pending += stripped.rstrip()[:-1] + ' '
                continue
            found.append((start, pending + stripped))
            pending = ''
        if pending:
            found.append((start, pending))
    return found


def replace_variables(line: str) -> str:
    """$py and ${py} stand for python; any other expansion becomes a placeholder word."""
    line = re.sub(r'\$\{?(py|python|PY|PYTHON)\}?(?!\w)', 'python', line)
    line = re.sub(r'\$\(\([^)]*\)\)', PLACEHOLDER, line)  # $((arithmetic))
    line = re.sub(r'\$\([^)]*\)', PLACEHOLDER, line)  # $(command)
    line = re.sub(r'\$\{[^}]*\}', PLACEHOLDER, line)  # ${VAR}, ${VAR:-x}, "${arr[@]}"
    return re.sub(r'\$\w+', PLACEHOLDER, line)


def script_name(token: str) -> Optional[str]:
    token = token[2:] if token.startswith('./') else token
    if token in ENTRY_POINTS or TOOL.fullmatch(token):
        return token
    return None


def is_launcher(token: str) -> bool:
    return bool(re.fullmatch(r'python[\d.]*', os.path.basename(token))) or token == 'torchrun'


def segments(tokens: list[str]) -> list[list[str]]:
    """Tokens split at shell operators; redirections and what follows them are dropped."""
    parts, current = [], []
    for token in tokens:
        if token in OPERATORS:
            parts.append(current)
            current = []
        elif re.match(r'\d?[<>]', token):
            current.append(None)
        else:
            current.append(token)
    parts.append(current)
    return [part[:part.index(None)] if None in part else part for part in parts]


def find_command(page: str, number: int, line: str) -> Optional[Command]:
    if not re.search(r'(^|[\s/"\'])(train|test|predict|serve|export|\w+/\w+)\.py\b', line):
        return None
    try:
        tokens = shlex.split(replace_variables(line), comments=True)
    except ValueError as error:  # an unclosed quote
        if re.search(r'(python[\d.]*|torchrun)\s.*\.py\b', line):  # a documented command all the same: say so
            return Command(page, number, line.strip(), '<unparseable>', [str(error)])
        return None
    for part in segments(tokens):
        for i, token in enumerate(part):
            script = script_name(token)
            if script is None:
                continue
            if not any(is_launcher(before) for before in part[:i]):
                break  # e.g. `xdg-open train.py`: not run here
            args = [arg for j, arg in enumerate(part[i + 1:], i + 1)
                    if not (arg == PLACEHOLDER and not part[j - 1].startswith('-'))]
            return Command(page, number, line.strip(), script, args)
    return None


def commands(page: Path) -> list[Command]:
    found = [find_command(page_name(page), number, line) for number, line in shell_lines(page)]
    return [command for command in found if command is not None]


# ---- parsing a command with its program's parser -------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def tool_module(script: str):
    spec = importlib.util.spec_from_file_location('docs_tool_' + re.sub(r'\W', '_', script), ROOT / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_parser(script: str) -> Optional[Callable[[list[str]], object]]:
    """A function that parses a command line as `script` does (raising SystemExit, or a UserError, on a bad one), or
    None for a tool with no parser to ask."""
    if script == 'train.py':
        from options.train_options import TrainOptions
        return lambda args: TrainOptions().gather_options(args)
    if script == 'test.py':
        from options.test_options import TestOptions
        return lambda args: TestOptions().gather_options(args)
    if script in ENTRY_POINTS:
        make_parser = importlib.import_module(script[:-3]).make_parser
        return lambda args: make_parser().parse_args(args)
    source = (ROOT / script).read_text(encoding='utf-8')
    if re.search(r'^def (parse_args|make_parser)\(', source, re.M):
        module = tool_module(script)
        if hasattr(module, 'make_parser'):
            return lambda args: module.make_parser().parse_args(args)
        if module.parse_args.__code__.co_argcount:
            return module.parse_args

        def parse_sys_argv(args: list[str]) -> object:
            with mock.patch.object(sys, 'argv', [script] + args):
                return module.parse_args()
        return parse_sys_argv
    if 'TestOptions().parse(' in source:  # e.g. scripts/evaluate_l1.py takes test.py's flags
        return load_parser('test.py')
    if 'TrainOptions().parse(' in source:
        return load_parser('train.py')
    return None  # that the file exists (checked by the caller) is all


COMMANDS = [command for page in PAGES for command in commands(page)]


@pytest.mark.parametrize('command', COMMANDS, ids=[command.id for command in COMMANDS])
def test_documented_command_parses(command: Command):
    where = f'{command.id}: {command.text}'
    assert command.script != '<unparseable>', f'{where}\nshlex cannot split this line: {command.args[0]}'
    assert (ROOT / command.script).is_file(), f'{where}\nruns {command.script}, which does not exist'
    problem = None
    try:
        parse = load_parser(command.script)
    except Exception as error:
        parse, problem = None, f'cannot load the argument parser of {command.script}: {type(error).__name__}: {error}'
    if parse is not None:
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                parse(command.args)
        except SystemExit as exit:
            if exit.code not in (0, None):
                said = stderr.getvalue().strip().splitlines()
                errors = [line.split(': ', 1)[-1] for line in said if ': error: ' in line] or said[-1:]
                problem = f'{command.script} rejects these arguments: ' + ' / '.join(errors)
        except Exception as error:  # e.g. a UserError for an unknown --model
            problem = f'{command.script} rejects these arguments: {type(error).__name__}: {error}'
    if problem:
        pytest.fail(f'{where}\n{problem}', pytrace=False)


def test_every_program_is_documented_with_a_command():
    """Guards the extraction itself: if it stopped finding commands, the test above would pass on nothing."""
    scripts = {command.script for command in COMMANDS}
    assert set(ENTRY_POINTS) <= scripts, f'no documented command found for {sorted(set(ENTRY_POINTS) - scripts)}'
    assert 'datasets/prepare_cityscapes_dataset.py' in scripts
    assert any('torchrun' in command.text for command in COMMANDS if command.script == 'train.py')


@pytest.mark.parametrize('line, script, args', [
    ('python train.py --dataroot d --name n  # a comment', 'train.py', ['--dataroot', 'd', '--name', 'n']),
    ('torchrun --standalone --nproc_per_node 2 train.py --dataroot d', 'train.py', ['--dataroot', 'd']),
    ('"$py" test.py --dataroot "$data" --name x &', 'test.py', ['--dataroot', PLACEHOLDER, '--name', 'x']),
    ('$venv/bin/python ./predict.py --name n --input a b --output o > log 2>&1', 'predict.py',
     ['--name', 'n', '--input', 'a', 'b', '--output', 'o']),
    ('WANDB_MODE=offline python3 serve.py --name n --port 8001', 'serve.py', ['--name', 'n', '--port', '8001']),
    ('srun python train.py --dataroot d --direction BtoA $resume', 'train.py', ['--dataroot', 'd', '--direction', 'BtoA']),
    ('cd x && python datasets/combine_A_and_B.py --fold_A a --fold_B b --fold_AB ab | tail -1',
     'datasets/combine_A_and_B.py', ['--fold_A', 'a', '--fold_B', 'b', '--fold_AB', 'ab']),
    ('xdg-open checkpoints/x/web/train.py', None, None),
    ('python -m http.server -d checkpoints/x/web 8000', None, None),
    ("echo it's done > train.py.log", None, None),
])
def test_command_lines_are_found_as_written(line, script, args):
    command = find_command('page', 1, line)
    assert (command and (command.script, command.args)) == ((script, args) if script else None)


def test_backslash_continuations_are_joined(tmp_path):
    page = tmp_path / 'page.md'
    page.write_text('text\n\n```bash\npython train.py --dataroot d \\\n  --name n\n```\n', encoding='utf-8')
    (command,) = [find_command('page', number, line) for number, line in shell_lines(page)]
    assert (command.line, command.args) == (4, ['--dataroot', 'd', '--name', 'n'])


# ---- links ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('page', PAGES, ids=page_name)
def test_relative_links_lead_to_existing_files_and_headings(page: Path):
    broken = []
    for number, target in links(page):
        if re.match(r'[a-z][a-z0-9+.-]*:', target, re.I):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition('#')
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f'{page_name(page)}:{number}: ({target}): {path} does not exist')
        elif anchor and linked.suffix == '.md' and anchor not in anchors(linked):
            broken.append(f'{page_name(page)}:{number}: ({target}): {path or page.name} has no heading #{anchor}')
    assert not broken, '\n'.join(broken)


def test_every_docs_page_is_linked_from_the_readme():
    readme = ROOT / 'README.md'
    linked = {(ROOT / target.partition('#')[0]).resolve() for _, target in links(readme)}
    missing = [page_name(page) for page in PAGES[1:] if page.resolve() not in linked]
    assert not missing, f'README.md links to none of {missing}'


def test_readme_stays_short():
    lines = len((ROOT / 'README.md').read_text(encoding='utf-8').splitlines())
    assert lines <= 250, f'README.md has {lines} lines; move detail to a page under docs/'
