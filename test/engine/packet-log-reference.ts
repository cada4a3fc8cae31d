// packet-log-reference.ts: the LOG line field parser as it was before its per-token dispatch
// and its early stop for drops (agent/engine/packet-log.ts): every token searched for its "=",
// read to the end of the line. Kept as the plain reference the fast parser is checked against.
import {
  MAX_PACKET_LINE,
  normaliseIPv4,
  normaliseIPv6,
  parseUint,
  protoName,
  type PacketFields,
} from '../../agent/engine/packet-log';

const C_EQ = 61;
const C_LBRACKET = 91;
const C_RBRACKET = 93;

/**
 * Parses the packet part of a LOG line, starting at `start` (from findPacketStart).
 * Returns null when a required field (SRC, DST, PROTO) is missing or malformed.
 */
export function referencePacketFields(text: string, start: number): PacketFields | null {
  const len = Math.min(text.length, MAX_PACKET_LINE);
  let inIf: string | undefined;
  let outIf: string | undefined;
  let src: string | undefined;
  let dst: string | undefined;
  let proto: string | undefined;
  let physIn: string | undefined;
  let physOut: string | undefined;
  let spt = -1;
  let dpt = -1;
  let type = -1;
  let code = -1;
  let uid = -1;
  let gid = -1;
  let mark: string | undefined;
  let depth = 0;
  let i = start;
  while (i < len) {
    let end = text.indexOf(' ', i);
    if (end < 0 || end > len) end = len;
    if (end === i) {
      i++;
      continue;
    }
    const t = i;
    const c = text.charCodeAt(t);
    if (c === C_RBRACKET && end - t === 1) {
      if (depth > 0) depth--;
      i = end + 1;
      continue;
    }
    if (c === C_LBRACKET && text.startsWith('SRC=', t + 1)) {
      depth++;
    }
    if (depth > 0) {
      i = end + 1;
      continue;
    }
    // key=value: find '=' inside the token
    let eq = -1;
    for (let k = t; k < end; k++) {
      if (text.charCodeAt(k) === C_EQ) {
        eq = k;
        break;
      }
    }
    if (eq < 0) {
      i = end + 1;
      continue;
    }
    const klen = eq - t;
    const v0 = eq + 1;
    switch (c) {
      case 73: // I
        if (klen === 2 && text.charCodeAt(t + 1) === 78 && inIf === undefined) inIf = text.slice(v0, end);
        break;
      case 79: // O
        if (klen === 3 && text.startsWith('OUT', t) && outIf === undefined) outIf = text.slice(v0, end);
        break;
      case 83: // S
        if (klen === 3) {
          if (text.startsWith('SRC', t)) {
            if (src === undefined) src = text.slice(v0, end);
          } else if (text.startsWith('SPT', t)) {
            if (spt < 0) spt = parseUint(text, v0, end);
          }
        }
        break;
      case 68: // D
        if (klen === 3) {
          if (text.startsWith('DST', t)) {
            if (dst === undefined) dst = text.slice(v0, end);
          } else if (text.startsWith('DPT', t)) {
            if (dpt < 0) dpt = parseUint(text, v0, end);
          }
        }
        break;
      case 80: // P
        if (klen === 5 && text.startsWith('PROTO', t)) {
          if (proto === undefined) proto = text.slice(v0, end);
        } else if (klen === 6 && text.startsWith('PHYSIN', t)) {
          physIn = text.slice(v0, end);
        } else if (klen === 7 && text.startsWith('PHYSOUT', t)) {
          physOut = text.slice(v0, end);
        }
        break;
      case 84: // T
        if (klen === 4 && text.startsWith('TYPE', t) && type < 0) type = parseUint(text, v0, end);
        break;
      case 67: // C
        if (klen === 4 && text.startsWith('CODE', t) && code < 0) code = parseUint(text, v0, end);
        break;
      case 85: // U
        if (klen === 3 && text.startsWith('UID', t)) uid = parseUint(text, v0, end);
        break;
      case 71: // G
        if (klen === 3 && text.startsWith('GID', t)) gid = parseUint(text, v0, end);
        break;
      case 77: // M
        if (klen === 4 && text.startsWith('MARK', t)) mark = text.slice(v0, end);
        break;
      default:
        break;
    }
    i = end + 1;
  }
  if (inIf === undefined || outIf === undefined || src === undefined || dst === undefined || proto === undefined) {
    return null;
  }
  const v6 = src.indexOf(':') >= 0;
  const nsrc = v6 ? normaliseIPv6(src) : normaliseIPv4(src);
  const ndst = v6 ? normaliseIPv6(dst) : normaliseIPv4(dst);
  const p = protoName(proto);
  if (nsrc === null || ndst === null || p === null) return null;
  const out: PacketFields = { inIf, outIf, family: v6 ? 6 : 4, src: nsrc, dst: ndst, proto: p };
  if (spt >= 0 && spt <= 65535) out.srcPort = spt;
  if (dpt >= 0 && dpt <= 65535) out.dstPort = dpt;
  if (p === 'icmp' || p === 'icmpv6') {
    if (type >= 0 && type <= 255) out.icmpType = type;
    if (code >= 0 && code <= 255) out.icmpCode = code;
  }
  if (physIn !== undefined) out.physIn = physIn;
  if (physOut !== undefined) out.physOut = physOut;
  if (uid >= 0) out.uid = uid;
  if (gid >= 0) out.gid = gid;
  if (mark !== undefined) out.mark = mark;
  return out;
}
