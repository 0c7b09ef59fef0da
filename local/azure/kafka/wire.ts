/**
 * Kafka wire framing for the broker stand-in: size-prefixed frames, the v1 request header
 * (api key, version, correlation id, client id) and the v0 response header (correlation id).
 */
import Decoder from 'kafkajs/src/protocol/decoder.js';
import Encoder from 'kafkajs/src/protocol/encoder.js';

export interface KafkaRequest {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Positioned at the request body. */
  body: Decoder;
}

/** Kafka rejects frames this large; so do we, instead of buffering without bound. */
const MAX_FRAME = 100 * 1024 * 1024;

/** Splits a byte stream into request frames; call `push` with each chunk. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): KafkaRequest[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const requests: KafkaRequest[] = [];
    while (this.pending.length >= 4) {
      const size = this.pending.readInt32BE(0);
      if (size < 8 || size > MAX_FRAME) throw new Error(`invalid Kafka frame size ${size}`);
      if (this.pending.length < 4 + size) break;
      const frame = this.pending.subarray(4, 4 + size);
      this.pending = this.pending.subarray(4 + size);
      const body = new Decoder(frame);
      requests.push({
        apiKey: body.readInt16(),
        apiVersion: body.readInt16(),
        correlationId: body.readInt32(),
        clientId: body.readString(),
        body,
      });
    }
    return requests;
  }
}

/** One response frame: size, correlation id, body. */
export function responseFrame(correlationId: number, body: Encoder): Buffer {
  const payload = new Encoder().writeInt32(correlationId).writeEncoder(body);
  return new Encoder().writeInt32(payload.size()).writeEncoder(payload).buffer;
}
