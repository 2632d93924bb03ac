/** The llm harness sends a FormData body as a client would: multipart, byte for byte (a PNG's bytes are not UTF-8). */
import { expect, it } from 'vitest';
import { proxyEvent, withForm } from './harness.js';

it('a form with a binary part reaches the event byte for byte, base64 as API Gateway passes it', async () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0xfe, 0x00, 0x80]);
  const form = new FormData();
  form.set('model', 'gpt-image-1');
  form.set('image', new Blob([png], { type: 'image/png' }), 'cat.png');
  const opts = await withForm({ path: '/v1/images/edits', body: form });
  const event = proxyEvent(opts, null);
  expect(event.isBase64Encoded).toBe(true);
  expect(event.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
  const sent = Buffer.from(event.body as string, 'base64');
  expect(sent.includes(png)).toBe(true);
  const parsed = await new Request('http://local/', {
    method: 'POST',
    body: sent,
    headers: { 'content-type': event.headers['content-type'] as string },
  }).formData();
  expect(Buffer.from(await (parsed.get('image') as Blob).arrayBuffer())).toEqual(png);
});
