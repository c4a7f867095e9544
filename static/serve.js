// The drawing page of serve.py: draw on a canvas at the model's training size; after each stroke the drawing is
// sent to POST /translate and the answer is shown beside it. Label maps get a palette, a rectangle and a brush
// tool; other inputs a brush (any colour) and an eraser. Strokes are unantialiased, so label colours stay exact.
'use strict';

const DISPLAY_SIDE = 512;  // the canvas is shown scaled up by a whole factor to about this many pixels
const UNDO_DEPTH = 50;
const canvas = document.getElementById('drawing');
const context = canvas.getContext('2d', {willReadFrequently: true});
const result = document.getElementById('result');
const statusLine = document.getElementById('status');
const state = {tool: null, colour: '#000000', background: '#ffffff', undo: [], stroke: null,
               busy: false, pending: false, resultUrl: null};

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
  canvas.toBlob(sendDrawing, 'image/png');
}

async function sendDrawing(blob) {
  const started = performance.now();
  try {
    const response = await fetch('translate', {method: 'POST', body: blob, headers: {'Content-Type': 'image/png'}});
    if (!response.ok) {
      showStatus(`translation failed (${response.status}): ${await response.text()}`, true);
    } else {
      showResult(await response.blob(), performance.now() - started);
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

function showResult(png, milliseconds) {
  if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
  state.resultUrl = URL.createObjectURL(png);
  result.onload = () => {
    result.dataset.translations = Number(result.dataset.translations) + 1;
  };
  result.src = state.resultUrl;
  document.getElementById('download-result').href = state.resultUrl;
  showStatus(`translation (${Math.round(milliseconds)} ms)`, false);
}

function toolButtons(tools) {
  const box = document.getElementById('tools');
  for (const tool of tools) {
    const button = document.createElement('button');
    button.type = 'button';
    button.id = `tool-${tool}`;
    button.textContent = tool[0].toUpperCase() + tool.slice(1);
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
  try {
    const bitmap = await createImageBitmap(file);
    pushUndo();
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    requestTranslation();
  } catch (error) {
    showStatus(`${file.name} cannot be read as an image`, true);
  }
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
  if (setup.palette) {
    state.background = rgbText(setup.palette[0].rgb);
    paletteSwatches(setup.palette);
    toolButtons(['rectangle', 'brush']);
  } else {
    document.getElementById('free-colour').hidden = false;
    toolButtons(['brush', 'eraser']);
  }
  setUpControls();
  clearCanvas();
  requestTranslation();
}

start();
