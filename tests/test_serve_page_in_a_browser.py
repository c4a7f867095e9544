"""serve.py's page in headless Chromium: strokes drawn with the mouse land on the canvas in the chosen colour, and
within seconds the page shows the server's translation of exactly that drawing; undo, upload, downloads and the two
tool sets work."""
import base64
import io

import httpx
import numpy as np
import pytest
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tiny_runs import WAIT_S, artifacts_dir, canvas_pixel, drawing_png, shown_result, start_serve, stop

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

PALETTE = [((0, 0, 170), 'background'), ((0, 0, 255), 'facade'), ((0, 85, 255), 'window')]


@pytest.fixture(scope='module')
def servers(tiny_experiment, tmp_path_factory):
    """Two servers of the tiny model: one drawing label maps from a --palette file, one with brush and eraser."""
    root = tmp_path_factory.mktemp('serve_page')
    palette_file = root / 'palette.txt'
    palette_file.write_text('// test labels\n' + ''.join(f'{r} {g} {b} {name}\n' for (r, g, b), name in PALETTE))
    common = ['--name', 'tiny', '--checkpoints_dir', str(tiny_experiment), '--gpu_ids', '-1']
    labels, labels_url = start_serve([*common, '--palette', str(palette_file)])
    free, free_url = start_serve(common)
    yield {'labels': labels_url, 'free': free_url}
    stop(labels)
    stop(free)


def open_page(browser, url: str):
    browser.get(url + '/')
    wait_for_translations(browser, 1)
    return browser.find_element(By.ID, 'drawing')


def wait_for_translations(browser, count: int) -> None:
    """Until the result image has been replaced `count` times since the page loaded."""
    WebDriverWait(browser, WAIT_S).until(
        lambda driver: int(driver.find_element(By.ID, 'result').get_attribute('data-translations')) >= count)


def drag(browser, canvas, start: tuple[float, float], end: tuple[float, float], steps: int = 5) -> None:
    """Press the mouse at `start`, move to `end` in `steps`, release; points as fractions of the canvas."""
    width, height = canvas.size['width'], canvas.size['height']

    def offset(point):
        return int((point[0] - 0.5) * width), int((point[1] - 0.5) * height)

    actions = ActionChains(browser).move_to_element_with_offset(canvas, *offset(start)).click_and_hold()
    (x0, y0), (x1, y1) = offset(start), offset(end)
    for step in range(1, steps + 1):
        actions.move_to_element_with_offset(canvas, x0 + (x1 - x0) * step // steps, y0 + (y1 - y0) * step // steps)
    actions.release().perform()


def served_translation(url: str, png: bytes) -> np.ndarray:
    response = httpx.post(f'{url}/translate', content=png, timeout=30)
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content))).astype(int)


def assert_page_shows_translation_of_drawing(browser, url: str) -> np.ndarray:
    shown = shown_result(browser)
    assert np.abs(shown - served_translation(url, drawing_png(browser))).max() <= 1
    return shown


def test_label_map_drawing_is_translated_after_each_stroke(browser, servers):
    url = servers['labels']
    canvas = open_page(browser, url)
    swatches = browser.find_elements(By.CSS_SELECTOR, '#palette .swatch')
    assert [swatch.get_attribute('title') for swatch in swatches] == [f'{name} rgb({r}, {g}, {b})' for (r, g, b), name in PALETTE]
    assert canvas.get_property('width') == 32 and canvas_pixel(browser, (0.5, 0.5)) == PALETTE[0][0]
    blank = assert_page_shows_translation_of_drawing(browser, url)

    browser.find_element(By.ID, 'tool-rectangle').click()
    swatches[2].click()
    drag(browser, canvas, (0.2, 0.2), (0.7, 0.6))
    wait_for_translations(browser, 2)
    assert canvas_pixel(browser, (0.45, 0.4)) == PALETTE[2][0] and canvas_pixel(browser, (0.85, 0.85)) == PALETTE[0][0]
    with_window = assert_page_shows_translation_of_drawing(browser, url)
    assert not np.array_equal(with_window, blank)

    browser.find_element(By.ID, 'tool-brush').click()
    swatches[1].click()
    drag(browser, canvas, (0.1, 0.85), (0.9, 0.85))
    wait_for_translations(browser, 3)
    assert canvas_pixel(browser, (0.5, 0.85)) == PALETTE[1][0]
    assert_page_shows_translation_of_drawing(browser, url)
    browser.save_screenshot(str(artifacts_dir() / 'serve_page_labels.png'))

    browser.find_element(By.ID, 'undo').click()
    wait_for_translations(browser, 4)
    assert canvas_pixel(browser, (0.5, 0.85)) == PALETTE[0][0]
    assert np.array_equal(assert_page_shows_translation_of_drawing(browser, url), with_window)


def test_photo_inputs_get_a_brush_and_an_eraser(browser, servers):
    url = servers['free']
    canvas = open_page(browser, url)
    assert [button.text for button in browser.find_elements(By.CSS_SELECTOR, '#tools button')] == ['Brush', 'Eraser']
    assert not browser.find_elements(By.CSS_SELECTOR, '#palette .swatch')
    browser.execute_script('const input = document.getElementById("brush-colour"); input.value = "#ff0000";'
                           'input.dispatchEvent(new Event("input"));')
    drag(browser, canvas, (0.1, 0.5), (0.9, 0.5))
    wait_for_translations(browser, 2)
    assert canvas_pixel(browser, (0.5, 0.5)) == (255, 0, 0)
    assert_page_shows_translation_of_drawing(browser, url)

    browser.find_element(By.ID, 'tool-eraser').click()
    drag(browser, canvas, (0.5, 0.1), (0.5, 0.9))
    wait_for_translations(browser, 3)
    assert canvas_pixel(browser, (0.5, 0.5)) == (255, 255, 255) and canvas_pixel(browser, (0.2, 0.5)) == (255, 0, 0)
    assert_page_shows_translation_of_drawing(browser, url)
    browser.save_screenshot(str(artifacts_dir() / 'serve_page_brush.png'))


def test_upload_fills_the_canvas_and_downloads_give_the_drawing_and_the_translation(browser, servers, tmp_path):
    url = servers['free']
    open_page(browser, url)
    upload = tmp_path / 'upload.png'
    Image.new('RGB', (64, 64), (0, 128, 0)).save(upload)
    browser.execute_script('document.getElementById("upload").hidden = false;')
    browser.find_element(By.ID, 'upload').send_keys(str(upload))
    wait_for_translations(browser, 2)
    assert canvas_pixel(browser, (0.3, 0.7)) == (0, 128, 0)
    shown = assert_page_shows_translation_of_drawing(browser, url)

    links = browser.execute_script(
        'const links = ["download-drawing", "download-result"].map(id => document.getElementById(id));'
        'for (const link of links) {'
        ' link.addEventListener("click", event => event.preventDefault());'
        ' link.dispatchEvent(new MouseEvent("click", {cancelable: true})); }'
        'return links.map(link => [link.download, link.href]);')
    assert [name for name, _ in links] == ['drawing.png', 'translation.png']
    drawing = np.asarray(Image.open(io.BytesIO(base64.b64decode(links[0][1].split(',', 1)[1]))))
    assert drawing.shape == (32, 32, 4) and (drawing[..., :3] == (0, 128, 0)).all()
    assert links[1][1] == browser.find_element(By.ID, 'result').get_attribute('src')
    assert np.array_equal(shown, shown_result(browser))
