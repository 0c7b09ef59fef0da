/**
 * Types for kafkajs 2.2.4's primitive protocol encoder/decoder (deep imports: kafkajs has no
 * exports map and ships no types for them). Only what the broker stand-in uses.
 */
declare module 'kafkajs/src/protocol/encoder.js' {
  export default class Encoder {
    constructor(initialSize?: number);
    readonly buffer: Buffer;
    size(): number;
    writeInt8(value: number): this;
    writeInt16(value: number): this;
    writeInt32(value: number): this;
    writeBoolean(value: boolean): this;
    /** null writes length -1. */
    writeString(value: string | null): this;
    writeEncoder(value: Encoder): this;
    /** Elements: numbers as int32, strings, or Encoders. */
    writeArray(array: ReadonlyArray<number | string | Encoder>, type?: 'int32' | 'number' | 'string' | 'object'): this;
  }
}

declare module 'kafkajs/src/protocol/decoder.js' {
  export default class Decoder {
    constructor(buffer: Buffer);
    offset: number;
    readInt8(): number;
    readInt16(): number;
    readInt32(): number;
    readBoolean(): boolean;
    /** null for length -1. */
    readString(): string | null;
    /** Length -1 (null) reads as []. */
    readArray<T>(reader: (decoder: Decoder) => T): T[];
    canReadInt32(): boolean;
  }
}
