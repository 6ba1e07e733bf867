/** Small builders shared by the versioning tests, so each test states only what matters to it. */
import type { Hlc, VersionedRecord, Write } from "../../../node/versioning/index.js";

export function put(value: string, ms = 1000, logical = 0, contentType = "text/plain"): Write {
  return { value: Buffer.from(value), contentType, timestamp: { ms, logical } };
}

export function del(ms = 1000, logical = 0): Write {
  return { value: null, contentType: "", timestamp: { ms, logical } };
}

export function at(ms: number, logical = 0): Hlc {
  return { ms, logical };
}

/** The sibling dots of a record as `actor:counter` strings, in the record's order. */
export function dots(record: VersionedRecord | undefined): string[] {
  return (record?.siblings ?? []).map((sibling) => `${sibling.dot.actor}:${sibling.dot.counter}`);
}

/** The sibling values of a record as strings (`null` for tombstones), in the record's order. */
export function values(record: VersionedRecord | undefined): (string | null)[] {
  return (record?.siblings ?? []).map((sibling) => (sibling.value === null ? null : sibling.value.toString()));
}

/** A deep copy that keeps values as Buffers (structuredClone would turn them into plain Uint8Arrays). */
export function cloneRecord(record: VersionedRecord): VersionedRecord {
  return {
    clock: { ...record.clock },
    siblings: record.siblings.map((sibling) => ({
      dot: { ...sibling.dot },
      value: sibling.value === null ? null : Buffer.from(sibling.value),
      contentType: sibling.contentType,
      timestamp: { ...sibling.timestamp },
    })),
  };
}
