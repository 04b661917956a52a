/** `facestream detect <image...> [--json]`: faces with boxes, confidence and keypoints. */
import { ImageError, decodeImage } from '../common/image.js';
import type { Detection } from '../common/types.js';
import { loadMtcnn } from '../detection/mtcnn.js';
import { EXIT_BAD_INPUT, UsageError, parse, printJson, printTable, reportBadFile, rounded } from './args.js';

export interface DetectResult {
  file: string;
  width: number;
  height: number;
  ms: number;
  faces: Detection[];
}

export async function detectCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    json: { type: 'boolean', default: false },
    'min-face': { type: 'string' },
  });
  if (positionals.length === 0) throw new UsageError('detect needs at least one image: facestream detect photo.jpg [--json]');
  const minFaceSize = values['min-face'] === undefined ? undefined : Number(values['min-face']);
  if (minFaceSize !== undefined && !(minFaceSize >= 12 && minFaceSize <= 10000)) throw new UsageError('--min-face must be a number of pixels from 12 to 10000');
  const detector = await loadMtcnn(minFaceSize ? { minFaceSize } : {});
  const results: DetectResult[] = [];
  let bad = 0;
  for (const file of positionals) {
    try {
      const image = await decodeImage(file);
      const t = performance.now();
      const faces = detector.detect(image);
      results.push({ file, width: image.width, height: image.height, ms: performance.now() - t, faces });
    } catch (error) {
      if (!(error instanceof ImageError)) throw error;
      bad++;
      reportBadFile(file, error.reason);
    }
  }
  detector.dispose();
  if (values.json) printJson(rounded(results));
  else
    printTable(
      ['file', 'size', 'ms', 'faces', 'boxes [x y w h] (confidence)'],
      results.map((r) => [
        r.file,
        `${r.width}x${r.height}`,
        Math.round(r.ms),
        r.faces.length,
        r.faces.map((f) => `[${f.box.map(Math.round).join(' ')}] (${f.confidence.toFixed(3)})`).join(' '),
      ]),
    );
  return bad ? EXIT_BAD_INPUT : 0;
}
