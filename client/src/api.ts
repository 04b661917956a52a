/**
 * The REST calls the live page makes (same origin). Expected failures come back as values with
 * the server's own message, so the page can show it; nothing here throws.
 */
import type { CameraStatus } from '../../src/common/live-events.js';

export type ApiResult<T> = { ok: true; value: T } | { ok: false; error: string };

export interface NewCamera {
  id: string;
  url: string;
  name?: string;
}

export function listCameras(): Promise<ApiResult<CameraStatus[]>> {
  return request<CameraStatus[]>('GET', '/api/cameras');
}

export function addCamera(camera: NewCamera): Promise<ApiResult<CameraStatus>> {
  return request<CameraStatus>('POST', '/api/cameras', camera);
}

export function removeCamera(id: string): Promise<ApiResult<null>> {
  return request<null>('DELETE', `/api/cameras/${encodeURIComponent(id)}`);
}

async function request<T>(method: string, url: string, body?: unknown): Promise<ApiResult<T>> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, error: 'the server cannot be reached; is facestream running?' };
  }
  if (response.status === 204) return { ok: true, value: null as T };
  const text = await response.text().catch(() => '');
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: handled below
  }
  if (!response.ok) {
    const message = isErrorBody(json) ? json.error : `${method} ${url} failed: HTTP ${response.status}`;
    return { ok: false, error: message };
  }
  return { ok: true, value: json as T };
}

function isErrorBody(value: unknown): value is { error: string } {
  return typeof value === 'object' && value !== null && typeof (value as { error?: unknown }).error === 'string';
}
