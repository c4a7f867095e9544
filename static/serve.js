// The drawing page of serve.py: draw on a canvas at the model's training size; after each stroke the drawing is
// sent to POST /translate and the answer is shown beside it. Label maps get a palette, a rectangle and a brush
// tool; other inputs a brush (any colour) and an eraser. Strokes are unantialiased, so label colours stay exact.
// A label-ID generator's palette has colour i for label ID i: a grey upload (r = g = b) is taken as label IDs and
// painted in their colours. A generator with encoded features adds the Style tool: its clicks draw nothing, they
// go with each drawing sent (translate?clicks=x,y;x,y) and step the regions clicked to their next styles.
'use strict';

const DISPLAY_SIDE = 512;  // the canvas is shown scaled up by a whole factor to about this many pixels
const UNDO_DEPTH = 50;
const canvas = document.getElementById('drawing');
const context = canvas.getContext('2d', {willReadFrequently: true});
const result = document.getElementById('result');
const statusLine = document.getElementById('status');
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];
const TOOL_TITLES = {style: 'click a region to step it on to the next style of its class'};
const state = {tool: null, colour: '#000000', background: '#ffffff', undo: [], stroke: null, clicks: [],
               palette: null, labelIds: false, busy: false, pending: false, resultUrl: null};

function rgbText(rgb) {
  return `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`;
}

function snapshot() {
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

function pushUndo() {
  state.undo.push(snapshot());
  if (state.undo.length > UNDO_DEPTH) state.undo.shift();
}

function canvasPoint(event) {
  const box = canvas.getBoundingClientRect();
  return {x: Math.floor((event.clientX - box.left) * canvas.width / box.width),
          y: Math.floor((event.clientY - box.top) * canvas.height / box.height)};
}

function brushSize() {
  return Number(document.getElementById('brush-size').value);
}

function stamp(point, colour) {
  const size = brushSize();
  const offset = Math.floor(size / 2);
  context.fillStyle = colour;
  context.fillRect(point.x - offset, point.y - offset, size, size);
}

function brushLine(from, to, colour) {
  const steps = Math.max(Math.abs(to.x - from.x), Math.abs(to.y - from.y), 1);
  for (let step = 0; step <= steps; step++) {
    stamp({x: Math.round(from.x + (to.x - from.x) * step / steps),
           y: Math.round(from.y + (to.y - from.y) * step / steps)}, colour);
  }
}

function fillRectangle(from, to) {
  context.fillStyle = state.colour;
  const left = Math.min(from.x, to.x), top = Math.min(from.y, to.y);
  context.fillRect(left, top, Math.abs(to.x - from.x) + 1, Math.abs(to.y - from.y) + 1);
}

function strokeColour() {
  return state.tool === 'eraser' ? state.background : state.colour;
}

function startStroke(event) {
  if (event.button !== 0) return;
  if (state.tool === 'style') {
    state.clicks.push(canvasPoint(event));
    requestTranslation();
    return;
  }
  canvas.setPointerCapture(event.pointerId);
  pushUndo();
  const point = canvasPoint(event);
  state.stroke = {start: point, last: point, before: state.undo[state.undo.length - 1]};
  if (state.tool === 'rectangle') fillRectangle(point, point);
  else stamp(point, strokeColour());
}

function continueStroke(event) {
  if (!state.stroke) return;
  const point = canvasPoint(event);
  if (state.tool === 'rectangle') {
    context.putImageData(state.stroke.before, 0, 0);
    fillRectangle(state.stroke.start, point);
  } else {
    brushLine(state.stroke.last, point, strokeColour());
  }
  state.stroke.last = point;
}

function endStroke(event) {
  if (!state.stroke) return;
  continueStroke(event);
  state.stroke = null;
  requestTranslation();
}

function clearCanvas() {
  context.fillStyle = state.background;
  context.fillRect(0, 0, canvas.width, canvas.height);
}

function showStatus(text, isError) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', Boolean(isError));
}

// One request at a time; strokes made meanwhile are sent together when it returns.
function requestTranslation() {
  if (state.busy) {
    state.pending = true;
    return;
  }
  state.busy = true;
  const url = translateUrl();
  canvas.toBlob(blob => sendDrawing(blob, url), 'image/png');
}

function translateUrl() {
  if (!state.clicks.length) return 'translate';
  return `translate?clicks=${encodeURIComponent(state.clicks.map(point => `${point.x},${point.y}`).join(';'))}`;
}

async function sendDrawing(blob, url) {
  const started = performance.now();
  try {
    const response = await fetch(url, {method: 'POST', body: blob, headers: {'Content-Type': 'image/png'}});
    if (!response.ok) {
      showStatus(`translation failed (${response.status}): ${await response.text()}`, true);
    } else {
      showResult(await response.blob(), performance.now() - started, response.headers.get('X-Style'));
    }
  } catch (error) {
    showStatus(`translation failed: ${error}`, true);
  } finally {
    state.busy = false;
    if (state.pending) {
      state.pending = false;
      requestTranslation();
    }
  }
}

function showResult(png, milliseconds, style) {
  if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
  state.resultUrl = URL.createObjectURL(png);
  result.onload = () => {
    result.dataset.translations = Number(result.dataset.translations) + 1;
  };
  result.src = state.resultUrl;
  document.getElementById('download-result').href = state.resultUrl;
  showStatus(`translation (${Math.round(milliseconds)} ms)${style ? `; ${style}` : ''}`, false);
}

function toolButtons(tools) {
  const box = document.getElementById('tools');
  for (const tool of tools) {
    const button = document.createElement('button');
    button.type = 'button';
    button.id = `tool-${tool}`;
    button.textContent = tool[0].toUpperCase() + tool.slice(1);
    if (TOOL_TITLES[tool]) button.title = TOOL_TITLES[tool];
    button.addEventListener('click', () => selectTool(tool));
    box.appendChild(button);
  }
  selectTool(tools[0]);
}

function selectTool(tool) {
  state.tool = tool;
  for (const button of document.querySelectorAll('#tools button')) {
    button.classList.toggle('selected', button.id === `tool-${tool}`);
  }
  canvas.classList.toggle('style-tool', tool === 'style');
}

function paletteSwatches(palette) {
  const box = document.getElementById('palette');
  palette.forEach((label, index) => {
    const swatch = document.createElement('button');
    swatch.type = 'button';
    swatch.className = 'swatch';
    swatch.id = `swatch-${index}`;
    swatch.style.background = rgbText(label.rgb);
    swatch.title = label.name ? `${label.name} ${rgbText(label.rgb)}` : rgbText(label.rgb);
    swatch.addEventListener('click', () => selectColour(index, palette));
    box.appendChild(swatch);
  });
  selectColour(palette.length > 1 ? 1 : 0, palette);
}

function selectColour(index, palette) {
  state.colour = rgbText(palette[index].rgb);
  for (const swatch of document.querySelectorAll('.swatch')) {
    swatch.classList.toggle('selected', swatch.id === `swatch-${index}`);
  }
}

async function uploadImage(file) {
  if (!file) return;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, {colorSpaceConversion: 'none', premultiplyAlpha: 'none'});
  } catch (error) {
    showStatus(`${file.name} cannot be read as an image`, true);
    return;
  }
  if (state.labelIds && await isDeepGreyPng(file)) {
    showStatus(`${file.name} is a 16-bit grey PNG, which the browser reads at 8 bits; save its label IDs as an 8-bit ` +
               'PNG, or send it to /translate with curl (see serve.py)', true);
    return;
  }
  pushUndo();
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const problem = state.labelIds ? paintLabelIds() : '';
  if (problem) {
    context.putImageData(state.undo.pop(), 0, 0);
    showStatus(`${file.name}: ${problem}`, true);
    return;
  }
  requestTranslation();
}

async function isDeepGreyPng(file) {
  const header = new Uint8Array(await file.slice(0, 26).arrayBuffer());  // the signature, then IHDR
  const greyTypes = [0, 4];
  return PNG_SIGNATURE.every((byte, index) => header[index] === byte) && header[24] === 16 &&
         greyTypes.includes(header[25]);
}

// A grey canvas (r = g = b everywhere) holds label IDs: paint each pixel in its label's colour. Returns what is
// wrong ('' when nothing is; a canvas in colour, or all in grey colours of the palette, stays as it is).
function paintLabelIds() {
  const image = snapshot();
  const pixels = image.data;
  let top = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i] !== pixels[i + 1] || pixels[i] !== pixels[i + 2]) return '';
    top = Math.max(top, pixels[i]);
  }
  if (top >= state.palette.length) {
    return inPalette(pixels) ? '' : `grey level ${top} is no label ID of this model (0..${state.palette.length - 1})`;
  }
  for (let i = 0; i < pixels.length; i += 4) {
    pixels.set([...state.palette[pixels[i]].rgb, 255], i);
  }
  context.putImageData(image, 0, 0);
  return '';
}

function inPalette(pixels) {
  const colours = new Set(state.palette.map(label => rgbText(label.rgb)));
  for (let i = 0; i < pixels.length; i += 4) {
    if (!colours.has(rgbText(pixels.subarray(i, i + 3)))) return false;
  }
  return true;
}

function setUpControls() {
  canvas.addEventListener('pointerdown', startStroke);
  canvas.addEventListener('pointermove', continueStroke);
  canvas.addEventListener('pointerup', endStroke);
  canvas.addEventListener('pointercancel', endStroke);
  const size = document.getElementById('brush-size');
  size.addEventListener('input', () => { document.getElementById('brush-size-value').textContent = size.value; });
  document.getElementById('undo').addEventListener('click', () => {
    if (!state.undo.length) return;
    context.putImageData(state.undo.pop(), 0, 0);
    requestTranslation();
  });
  document.getElementById('clear').addEventListener('click', () => {
    pushUndo();
    state.clicks = [];
    clearCanvas();
    requestTranslation();
  });
  document.getElementById('upload').addEventListener('change', event => uploadImage(event.target.files[0]));
  document.getElementById('brush-colour').addEventListener('input', event => { state.colour = event.target.value; });
  document.getElementById('download-drawing').addEventListener('click', event => {
    event.currentTarget.href = canvas.toDataURL('image/png');
  });
}

async function start() {
  const setup = await (await fetch('setup.json')).json();
  document.getElementById('model-name').textContent = setup.name;
  document.getElementById('tools-note').textContent = `drawing tools: ${setup.tools_note}`;
  document.getElementById('canvas-size').textContent = `${setup.size}x${setup.size}`;
  canvas.width = canvas.height = setup.size;
  const shown = `${Math.max(1, Math.floor(DISPLAY_SIDE / setup.size)) * setup.size}px`;
  for (const element of [canvas, result]) {
    element.style.width = element.style.height = shown;
  }
  context.imageSmoothingEnabled = false;
  const styleTool = setup.styles ? ['style'] : [];
  state.palette = setup.palette;
  state.labelIds = setup.label_nc > 0;
  if (setup.palette) {
    state.background = rgbText(setup.palette[0].rgb);
    paletteSwatches(setup.palette);
    toolButtons(['rectangle', 'brush', ...styleTool]);
  } else {
    document.getElementById('free-colour').hidden = false;
    toolButtons(['brush', 'eraser', ...styleTool]);
  }
  setUpControls();
  clearCanvas();
  requestTranslation();
}

start();
