// DNS protocol constants: types, classes, opcodes, rcodes and header bits (RFC 1035 §4.1).
#pragma once

#include <cstddef>
#include <cstdint>

namespace signpost::dns::wire {

/// Resource record types used by the server (RFC 1035 §3.2.2 and later RFCs).
namespace rrtype {
inline constexpr std::uint16_t kA = 1;
inline constexpr std::uint16_t kNs = 2;
inline constexpr std::uint16_t kCname = 5;
inline constexpr std::uint16_t kSoa = 6;
inline constexpr std::uint16_t kPtr = 12;
inline constexpr std::uint16_t kMx = 15;
inline constexpr std::uint16_t kTxt = 16;
inline constexpr std::uint16_t kAaaa = 28;
inline constexpr std::uint16_t kSrv = 33;
inline constexpr std::uint16_t kDname = 39;
inline constexpr std::uint16_t kOpt = 41;
inline constexpr std::uint16_t kDs = 43;
inline constexpr std::uint16_t kTkey = 249;
inline constexpr std::uint16_t kTsig = 250;
inline constexpr std::uint16_t kIxfr = 251;
inline constexpr std::uint16_t kAxfr = 252;
inline constexpr std::uint16_t kMailb = 253;
inline constexpr std::uint16_t kMaila = 254;
inline constexpr std::uint16_t kAny = 255;
}  // namespace rrtype

/// Classes (RFC 1035 §3.2.4, RFC 2136 §2.4).
namespace rrclass {
inline constexpr std::uint16_t kIn = 1;
inline constexpr std::uint16_t kNone = 254;
inline constexpr std::uint16_t kAny = 255;
}  // namespace rrclass

/// Opcodes (RFC 1035 §4.1.1, RFC 1996, RFC 2136).
namespace opcode {
inline constexpr std::uint8_t kQuery = 0;
inline constexpr std::uint8_t kNotify = 4;
inline constexpr std::uint8_t kUpdate = 5;
}  // namespace opcode

/// Response codes; values above 15 travel partly in the OPT record (RFC 6891 §6.1.3).
namespace rcode {
inline constexpr std::uint16_t kNoError = 0;
inline constexpr std::uint16_t kFormErr = 1;
inline constexpr std::uint16_t kServFail = 2;
inline constexpr std::uint16_t kNxDomain = 3;
inline constexpr std::uint16_t kNotImp = 4;
inline constexpr std::uint16_t kRefused = 5;
inline constexpr std::uint16_t kYxDomain = 6;   // RFC 2136 §2.2
inline constexpr std::uint16_t kYxRrset = 7;
inline constexpr std::uint16_t kNxRrset = 8;
inline constexpr std::uint16_t kNotAuth = 9;
inline constexpr std::uint16_t kNotZone = 10;
inline constexpr std::uint16_t kBadVers = 16;
// TSIG error field values (RFC 8945 §5.3); the message's rcode is then NOTAUTH.
inline constexpr std::uint16_t kBadSig = 16;
inline constexpr std::uint16_t kBadKey = 17;
inline constexpr std::uint16_t kBadTime = 18;
inline constexpr std::uint16_t kBadTrunc = 22;
}  // namespace rcode

/// Header flag bits in the 16-bit flags word (RFC 1035 §4.1.1, RFC 4035 §3.2).
namespace flag {
inline constexpr std::uint16_t kQr = 0x8000;
inline constexpr std::uint16_t kAa = 0x0400;
inline constexpr std::uint16_t kTc = 0x0200;
inline constexpr std::uint16_t kRd = 0x0100;
inline constexpr std::uint16_t kRa = 0x0080;
inline constexpr std::uint16_t kAd = 0x0020;
inline constexpr std::uint16_t kCd = 0x0010;
}  // namespace flag

inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kMaxNameLength = 255;   // RFC 1035 §2.3.4, wire octets
inline constexpr std::size_t kMaxLabelLength = 63;   // RFC 1035 §2.3.4
inline constexpr std::size_t kMaxLabels = 128;       // 255 octets hold at most 127 labels + root
inline constexpr std::size_t kClassicUdpSize = 512;  // RFC 1035 §4.2.1
inline constexpr std::size_t kMaxMessageSize = 65535;

}  // namespace signpost::dns::wire
