/**
 * The peer port's wire: the framing of the peer protocol, the typed operations it carries (schemas and body codecs,
 * used by both ends), the entry batches that stream partitions, and the messages of the admin API.
 */
export { encodeFrame, frameBody, FrameReader, FRAME_BYTES_MAX, FRAME_ERROR, FRAME_GOAWAY, FRAME_HEADER_BYTES_MAX, FRAME_OK, FRAME_OVERHEAD_BYTES, FRAME_REQUEST, GOAWAY_FRAME_ID, RECORD_BYTES_MAX_LIMIT, SCAN_PAGE_BYTES_MAX } from "./frame.js";
export type { Frame } from "./frame.js";
export { encodeEntries, decodeEntries, entriesOverheadBytes } from "./entries.js";
export type { RawEntry } from "./entries.js";
export {
  AE_KEYS_MAX,
  AE_LEAVES_BYTES,
  AE_SEGMENTS,
  decodeErrorHeader,
  decodeRequest,
  decodeResponse,
  encodeRequestBody,
  encodeRequestHeader,
  encodeResponse,
  isPeerOp,
  KEY_BYTES_MAX,
  PEER_OPS,
  PeerMessageError,
  SCAN_LIMIT_MAX,
} from "./peer-ops.js";
export { PEER_COMPACT_COORDINATE_HEADER, PEER_COMPACT_HEADER } from "./peer-ops.js";
export type { BodyCodec, DecodedEntry, ReceivedRecord, PeerHandler, PeerHandlers, PeerOp, PeerRequest, PeerRequestOut, PeerResponse, PeerResponseOut } from "./peer-ops.js";
export {
  ADMIN_PATHS,
  adminErrorSchema,
  faultsSchema,
  localRecordSchema,
  nodeConfigViewSchema,
  nodeInfoSchema,
  nodeStatsSchema,
  ringInstallSchema,
  ringSchema,
  transferProgressSchema,
  transfersSchema,
} from "./admin.js";
export type { Faults, LocalRecord, NodeConfigView, NodeInfo, NodeStats, RingInstall, TlsInUse, TransferProgress, TransfersReport } from "./admin.js";
