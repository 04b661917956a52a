/** /api/metrics in Prometheus' text format, per camera. */
import type { CameraMetricsSnapshot } from '../pipeline/metrics.js';

function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function prometheusText(cameras: CameraMetricsSnapshot[]): string {
  const lines: string[] = [];
  const gauge = (name: string, help: string, type: 'gauge' | 'counter', value: (c: CameraMetricsSnapshot) => number) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const c of cameras) lines.push(`${name}{camera="${escape(c.cameraId)}"} ${value(c)}`);
  };
  gauge('facestream_fps_in', 'Frames per second decoded from the camera', 'gauge', (c) => c.fpsIn);
  gauge('facestream_fps_processed', 'Frames per second run through the detector', 'gauge', (c) => c.fpsProcessed);
  gauge(
    'facestream_frames_dropped_total',
    'Frames never detected: replaced by a newer one before detection, or dropped at capture because every slot of the camera ring was in use',
    'counter',
    (c) => c.framesDropped,
  );
  gauge('facestream_embeds_dropped_total', 'Embedding jobs replaced by a newer one before the embedder took them', 'counter', (c) => c.embedsDropped);
  gauge('facestream_camera_restarts_total', 'ffmpeg restarts by the watchdog', 'counter', (c) => c.restarts);
  gauge('facestream_detection_ms', 'Detection time per frame, moving average', 'gauge', (c) => c.detectMs);
  gauge('facestream_embedding_ms', 'Alignment and embedding time per face, moving average', 'gauge', (c) => c.embedMsPerFace);
  gauge(
    'facestream_full_detection_interval_ms',
    'Effective time between full detections (finding new faces), stretched when the detector is saturated',
    'gauge',
    (c) => c.fullDetectionIntervalMs,
  );
  gauge('facestream_overloaded', '1 while the camera gets fewer full detections than it asks for (see facestream_overload_info)', 'gauge', (c) => (c.overloaded ? 1 : 0));
  // a reason is text: an info metric carries it as a label, only while the camera is overloaded
  const info = 'facestream_overload_info';
  lines.push(`# HELP ${info} Why the camera is overloaded, in the reason label`, `# TYPE ${info} gauge`);
  for (const c of cameras) if (c.overloadReason !== null) lines.push(`${info}{camera="${escape(c.cameraId)}",reason="${escape(c.overloadReason)}"} 1`);
  const name = 'facestream_capture_to_emit_ms';
  lines.push(`# HELP ${name} Time from frame capture to the frame message being sent`, `# TYPE ${name} histogram`);
  for (const c of cameras) {
    const label = `camera="${escape(c.cameraId)}"`;
    c.latency.bounds.forEach((b, i) => lines.push(`${name}_bucket{${label},le="${b}"} ${c.latency.counts[i]}`));
    lines.push(`${name}_bucket{${label},le="+Inf"} ${c.latency.count}`, `${name}_sum{${label}} ${c.latency.sum}`, `${name}_count{${label}} ${c.latency.count}`);
  }
  return lines.join('\n') + '\n';
}
