// The microphone capture for browsers without MediaStreamTrackProcessor
// (web-client/src/media/capture.rs): collects the first channel of the
// input into 20 ms blocks and posts each block (a Float32Array) to the
// page, which makes it an AudioData for the Opus encoder.
class EdgecallCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.size = Math.round(sampleRate / 50);
    this.block = new Float32Array(this.size);
    this.filled = 0;
  }

  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    let read = 0;
    while (read < input.length) {
      const n = Math.min(input.length - read, this.size - this.filled);
      this.block.set(input.subarray(read, read + n), this.filled);
      this.filled += n;
      read += n;
      if (this.filled === this.size) {
        this.port.postMessage(this.block, [this.block.buffer]);
        this.block = new Float32Array(this.size);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor('edgecall-capture', EdgecallCapture);
