"""serve.py for a label-ID generator with pix2pixHD's encoded features, in headless Chromium: the page draws label
IDs in the results pages' colours (a grey label-ID upload shows in them too), and a click with the Style tool
restyles the region clicked while the others keep their styles; /translate takes those colours as label IDs, refuses
any other colour in one line, and steps styles for the clicks in its query."""
import io

import httpx
import numpy as np
import pytest
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import serve
from models.feature_clusters import write_feature_file
from models.label_maps import label_palette
from models.translator import Translator
from tiny_runs import IMAGE_SIDE, WAIT_S, artifacts_dir, canvas_pixel, drawing_png, shown_result, build_labeled_model, save_as_trained, start_serve, stop
from util.errors import UserError

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

LABEL_NC = 4
STYLES = 5
PALETTE = label_palette(LABEL_NC).numpy().astype(int)
# (label ID, from, to) as fractions of the canvas, drawn with the Rectangle tool; label 0 is the background
RECTANGLES = [(1, (0.1, 0.1), (0.4, 0.45)), (2, (0.55, 0.55), (0.9, 0.9)), (3, (0.55, 0.1), (0.9, 0.35))]
CLICKED = (0.72, 0.72)  # inside the rectangle of label 2
CLICKED_PIXEL = '23,23'  # x,y of CLICKED on the 32x32 canvas, as the clicks of /translate's query


@pytest.fixture(scope='module')
def experiment(tmp_path_factory):
    """An untrained (Kaiming-initialised) --instance_feat generator on 4 labels, saved as training leaves it, with a
    cluster file of 5 distinct centres for each of the labels 1, 2 and 3 (the background has none)."""
    checkpoints = tmp_path_factory.mktemp('serve_styles')
    model = build_labeled_model(checkpoints, '--name', 'enc', '--label_nc', str(LABEL_NC), '--instance_feat',
                                '--nef', '4', '--n_downsample_E', '2', '--init_type', 'kaiming')
    save_as_trained(model)
    rng = np.random.default_rng(0)
    centres = np.linspace(-1, 1, STYLES * 3).reshape(STYLES, 3)
    write_feature_file(f'{model.save_dir}/features_clustered_010.npy',
                       {label: centres[rng.permutation(STYLES)] for label in (1, 2, 3)})
    return checkpoints


@pytest.fixture(scope='module')
def server(experiment) -> str:
    process, url = start_serve(['--name', 'enc', '--checkpoints_dir', str(experiment), '--gpu_ids', '-1'])
    yield url
    stop(process)


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, 'PNG')
    return buffer.getvalue()


def decoded(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body))).astype(int)


def post(url: str, body: bytes, clicks: str = '') -> httpx.Response:
    return httpx.post(f'{url}/translate', params={'clicks': clicks} if clicks else None, content=body, timeout=30)


def translation(url: str, body: bytes, clicks: str = '') -> np.ndarray:
    response = post(url, body, clicks)
    assert response.status_code == 200, response.text
    return decoded(response.content)


def open_page(browser, url: str):
    browser.get(url + '/')
    wait_for_translations(browser, 1)
    return browser.find_element(By.ID, 'drawing')


def wait_for_translations(browser, count: int) -> None:
    """Until the result image has been replaced `count` times since the page loaded (polled every 20 ms)."""
    WebDriverWait(browser, WAIT_S, poll_frequency=0.02).until(
        lambda driver: int(driver.find_element(By.ID, 'result').get_attribute('data-translations')) >= count)


def pointer(browser, canvas, point: tuple[float, float]) -> ActionChains:
    """Actions that start with the pointer moved at once to `point` (fractions of the canvas)."""
    width, height = canvas.size['width'], canvas.size['height']
    offset = int((point[0] - 0.5) * width), int((point[1] - 0.5) * height)
    return ActionChains(browser, duration=0).move_to_element_with_offset(canvas, *offset)


def drag(browser, canvas, start: tuple[float, float], end: tuple[float, float]) -> None:
    actions = pointer(browser, canvas, start).click_and_hold()
    width, height = canvas.size['width'], canvas.size['height']
    actions.move_by_offset(int((end[0] - start[0]) * width), int((end[1] - start[1]) * height)).release().perform()


def click(browser, canvas, point: tuple[float, float]) -> None:
    pointer(browser, canvas, point).click().perform()


def status(browser) -> str:
    return browser.find_element(By.ID, 'status').text


def draw_rectangles(browser, canvas) -> np.ndarray:
    """RECTANGLES drawn one after another, each translated; returns the drawing's RGB pixels."""
    browser.find_element(By.ID, 'tool-rectangle').click()
    swatches = browser.find_elements(By.CSS_SELECTOR, '#palette .swatch')
    for count, (label, start, end) in enumerate(RECTANGLES, 2):
        swatches[label].click()
        drag(browser, canvas, start, end)
        wait_for_translations(browser, count)
    return decoded(drawing_png(browser))[..., :3]


def test_a_style_click_restyles_the_region_clicked_more_than_the_rest(browser, server):
    canvas = open_page(browser, server)
    tools = [button.text for button in browser.find_elements(By.CSS_SELECTOR, '#tools button')]
    swatches = [swatch.get_attribute('title') for swatch in browser.find_elements(By.CSS_SELECTOR, '#palette .swatch')]
    assert tools == ['Rectangle', 'Brush', 'Style']
    assert swatches == [f'{label} rgb({r}, {g}, {b})' for label, (r, g, b) in enumerate(PALETTE)]
    drawing = draw_rectangles(browser, canvas)
    body, drawn = png(drawing.astype(np.uint8)), len(RECTANGLES) + 1
    before = shown_result(browser)
    assert np.array_equal(before, translation(server, body))

    browser.find_element(By.ID, 'tool-style').click()
    click(browser, canvas, CLICKED)
    wait_for_translations(browser, drawn + 1)
    after = shown_result(browser)
    assert np.array_equal(decoded(drawing_png(browser))[..., :3], drawing), 'a style click drew on the canvas'
    assert status(browser).endswith('; style 2 of 5 for class 2')
    change = np.abs(after - before).mean(axis=2)
    clicked_region = (drawing == PALETTE[2]).all(axis=2)
    assert change.max() > 0, 'the style click did not change the translation'
    inside, outside = change[clicked_region].mean(), change[~clicked_region].mean()
    assert inside > outside, f'mean change {inside:.1f} inside the region clicked, {outside:.1f} outside'
    assert np.array_equal(after, translation(server, body, CLICKED_PIXEL))

    click(browser, canvas, CLICKED)
    wait_for_translations(browser, drawn + 2)
    assert status(browser).endswith('; style 3 of 5 for class 2')
    assert np.array_equal(shown_result(browser), translation(server, body, f'{CLICKED_PIXEL};{CLICKED_PIXEL}'))
    browser.save_screenshot(str(artifacts_dir() / 'serve_page_styles.png'))

    browser.find_element(By.ID, 'clear').click()  # forgets the clicks; undo brings the drawing back without them
    wait_for_translations(browser, drawn + 3)
    browser.find_element(By.ID, 'undo').click()
    wait_for_translations(browser, drawn + 4)
    assert np.array_equal(decoded(drawing_png(browser))[..., :3], drawing)
    assert np.array_equal(shown_result(browser), before)


def test_clicks_wrap_round_and_leave_unclicked_regions_as_drawn(server):
    labels = np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.uint8)
    labels[4:14, 4:14], labels[18:30, 18:30] = 1, 2
    body = png(labels)
    drawn = translation(server, body)
    assert np.array_equal(translation(server, body), drawn), 'the regions not clicked changed style between requests'
    once = translation(server, body, '20,20')
    assert not np.array_equal(once, drawn)
    assert np.array_equal(translation(server, body, ';'.join(['20,20'] * (STYLES + 1))), once)
    response = post(server, body, '5,5;20,20;0,0')
    assert response.headers['X-Style'] == 'class 0 has no styles in the cluster file'
    assert post(server, body, '20,20').headers['X-Style'] == 'style 2 of 5 for class 2'


def test_a_grey_label_id_upload_shows_in_the_palette_colours(browser, server, tmp_path):
    open_page(browser, server)
    labels = np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.uint8)
    labels[:, 8:16], labels[:, 16:24], labels[:, 24:] = 1, 2, 3
    labels[20:, :] = 2
    (tmp_path / 'labels.png').write_bytes(png(labels))
    (tmp_path / 'deep.png').write_bytes(png(labels.astype(np.uint16)))
    upload = browser.find_element(By.ID, 'upload')
    browser.execute_script('arguments[0].hidden = false;', upload)
    upload.send_keys(str(tmp_path / 'labels.png'))
    wait_for_translations(browser, 2)
    assert np.array_equal(decoded(drawing_png(browser))[..., :3], PALETTE[labels])
    assert np.array_equal(shown_result(browser), translation(server, png(labels)))

    upload.send_keys(str(tmp_path / 'deep.png'))
    assert '16-bit grey PNG' in browser.execute_async_script(
        'const done = arguments[0]; const line = document.getElementById("status");'
        'const wait = () => line.classList.contains("error") ? done(line.textContent) : setTimeout(wait, 10); wait();')
    assert canvas_pixel(browser, (0.3, 0.1)) == tuple(PALETTE[1])


def test_translate_reads_palette_colours_as_label_ids_and_refuses_others_in_one_line(server):
    setup = httpx.get(f'{server}/setup.json', timeout=10).json()
    assert setup['label_nc'] == LABEL_NC and setup['styles'] is True and setup['size'] == IMAGE_SIDE
    assert [(label['rgb'], label['name']) for label in setup['palette']] == [(list(rgb), str(i)) for i, rgb in enumerate(PALETTE)]
    labels = np.random.default_rng(1).integers(0, LABEL_NC, (12, 20)).astype(np.uint8)
    colours = PALETTE[labels].astype(np.uint8)
    opaque = np.dstack([colours, np.full(labels.shape, 255, np.uint8)])
    expected = translation(server, png(labels))
    for body in (png(labels.astype(np.uint16)), png(colours), png(opaque)):
        assert np.array_equal(translation(server, body), expected)

    colours[3, 5] = (1, 2, 3)
    refusals = {'a colour outside the palette': (png(colours), '', 422, 'the pixel at x=5, y=3 (the first such) is rgb(1, 2, 3)'),
                'a label ID outside 0..3': (png(np.full((8, 8), 7, np.uint8)), '', 422, 'label ID 7, outside 0..3'),
                'a click of three numbers': (png(labels), '1,2,3', 400, "clicks: '1,2,3' is not x,y"),
                'a click outside': (png(labels), '20,0', 422, 'the click at 20,0 is outside the 20x12 image')}
    for case, (body, clicks, code, words) in refusals.items():
        response = post(server, body, clicks)
        assert response.status_code == code and words in response.text, (case, response.status_code, response.text)
        assert response.text.count('\n') == 1 and response.text.endswith('\n'), (case, response.text)


def test_a_palette_file_for_label_ids_needs_one_colour_per_id(experiment, tmp_path):
    translator = Translator.from_checkpoint(str(experiment / 'enc'), gpu_ids=[])
    palette_file = tmp_path / 'palette.txt'
    palette_file.write_text('#000000 void\n255 0 0 road\n0 255 0\n0 0 255 car\n')
    labels, note = serve.choose_palette(str(palette_file), {}, translator)
    assert [(label.rgb, label.name) for label in labels] == [((0, 0, 0), 'void'), ((255, 0, 0), 'road'),
                                                              ((0, 255, 0), '2'), ((0, 0, 255), 'car')]
    assert note == f'4 label colours from --palette {palette_file}, one per label ID'
    palette_file.write_text('#000000\n255 0 0\n0 255 0\n')
    with pytest.raises(UserError, match=r'has 3 colours; this generator takes label IDs 0\.\.3: give exactly 4 lines'):
        serve.choose_palette(str(palette_file), {}, translator)
    palette_file.write_text('#000000\n255 0 0\n0 255 0\n#ff0000\n')
    with pytest.raises(UserError, match=r'label IDs 1 and 3 are both rgb\(255, 0, 0\)'):
        serve.choose_palette(str(palette_file), {}, translator)
