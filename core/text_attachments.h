// EncodedBlockExtractor: files written into a text body as uuencode, yEnc or BinHex blocks, which
// mail clients (Outlook, Thunderbird, news readers) show and save as attachments although MIME sees
// only text. Each block found is decoded and handed on like an attachment, so the policy and the
// scanner judge it.
//
// Recognised (each at the start of a line):
//   uuencode      "begin NNN name" ... "end" (NNN: 3 or 4 octal digits); "begin-base64 NNN name"
//                 ... "====" (uuencode -m);
//   yEnc          "=ybegin ... name=NAME" [ "=ypart ..." ] ... "=yend"; '=' escapes, 42 offset;
//   BinHex 4.0    a line "(This file must be converted with BinHex 4.0)", then ':' data ':'; the
//                 6-bit code and 0x90 run-length coding are undone and the data fork is the file
//                 (the resource fork and the CRCs are not used).
// A uuencode block whose first data line is not well formed is not a block (ordinary text that
// happens to start "begin 644 "). A block that ends without its end line (end of text, a line that
// is not data) is handed on with what was decoded: a client may still save it.
//
// Limits: bytes are decoded linearly as they stream by; only one line is buffered, cut at
// kMaxLineBytes (a longer line ends a block); a block's decoded size is capped at max_block_bytes
// (a Status::Malformed naming the block, so a run-length bomb cannot fill the disk); the number of
// blocks is the caller's to bound (the MIME walk counts each as a MIME part).
//
// Thread-safety: one extractor per text part; not shared.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/spool.h"
#include "core/status.h"

namespace desk {

class EncodedBlockExtractor {
 public:
  static constexpr size_t kMaxLineBytes = 64 * 1024;

  // kind: "uuencode", "yenc" or "binhex"; name: as the block gives it ("" when none); content:
  // the decoded bytes. A non-OK Status stops the extraction and is returned by Feed/Finish.
  using OnFile = std::function<Status(const std::string& kind, const std::string& name,
                                      const Spool& content)>;

  // Decoded blocks go to a Spool in decode_dir ("" = $TMPDIR) kept in memory up to threshold bytes.
  EncodedBlockExtractor(std::string decode_dir, uint64_t threshold, uint64_t max_block_bytes,
                        OnFile on_file);
  ~EncodedBlockExtractor();
  EncodedBlockExtractor(const EncodedBlockExtractor&) = delete;
  EncodedBlockExtractor& operator=(const EncodedBlockExtractor&) = delete;

  // Text in any chunking (line ends LF or CRLF).
  Status Feed(std::string_view text);
  // End of the text: the last line is processed and an open block is handed on.
  Status Finish();

 private:
  enum class State { kText, kUu, kUuBase64, kYenc, kBinhexWait, kBinhex };
  Status Line(std::string_view line, bool cut);
  Status Begin(State state, const char* kind, std::string name);
  Status End();  // hands on the open block (if it decoded anything) and returns to kText
  Status Out(const char* bytes, size_t n);
  Status Out(char byte) { return Out(&byte, 1); }
  Status Flush();  // pending_ to block_
  Status BinhexByte(uint8_t b);      // after the 6-bit decoding: run-length decoding
  Status BinhexPlain(uint8_t b);     // after run-length decoding: header, then data fork
  Status Base64Line(std::string_view line);

  std::string dir_;
  uint64_t threshold_;
  uint64_t max_block_bytes_;
  OnFile on_file_;

  std::string line_;
  bool line_cut_ = false;
  State state_ = State::kText;
  const char* kind_ = "";
  std::string name_;
  std::unique_ptr<Spool> block_;
  std::string pending_;  // decoded bytes not yet in block_
  static constexpr size_t kFlushBytes = 64 * 1024;
  bool first_data_line_ = false;
  // base64 / BinHex bit accumulators.
  uint32_t bits_ = 0;
  int nbits_ = 0;
  // BinHex: run-length state and the header being read.
  bool rle_marker_ = false;
  int rle_last_ = -1;
  std::string bh_header_;
  uint64_t bh_data_left_ = 0;
  bool bh_in_data_ = false;
};

}  // namespace desk
