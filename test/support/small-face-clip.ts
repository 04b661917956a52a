/**
 * The far, small face of issue 11: a talking-head clip scaled to a small tile and padded into a
 * large frame (1920×1080 by default), as a face a few metres from a 1080p camera. At 120×120 the
 * face itself is about 50 px tall at full resolution and about 17 px once the frame is scaled to
 * 640 wide: too small to name from the scaled frame, enough to name from the full-size pixels.
 * Used by the integration tests and `facestream bench stream --resolution 1080`.
 */
import { runFfmpeg } from '../../src/ingest/ffmpeg.js';

export interface SmallFaceClip {
  /** The side of the square the clip is scaled into, px (default 120). */
  tile?: number;
  /** The frame it is padded into (default 1920×1080). */
  width?: number;
  height?: number;
  /** Where the tile's top-left corner sits (default: a little left of and above the centre). */
  x?: number;
  y?: number;
  fps?: number;
}

/** Writes the padded clip to `output` (H.264, a keyframe every second, no audio). */
export async function prepareSmallFaceClip(ffmpegPath: string, input: string, output: string, options: SmallFaceClip = {}): Promise<void> {
  const { tile = 120, width = 1920, height = 1080, fps = 25 } = options;
  const x = options.x ?? Math.round(width * 0.4);
  const y = options.y ?? Math.round(height * 0.35);
  const filters = [`fps=${fps}`, `scale=${tile}:${tile}:force_original_aspect_ratio=decrease`, `pad=${width}:${height}:${x}:${y}:color=0x505860`, 'setsar=1'];
  await runFfmpeg(ffmpegPath, ['-y', '-i', input, '-an', '-vf', filters.join(','), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(fps), '-pix_fmt', 'yuv420p', output]);
}
