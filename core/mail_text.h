// Text for mail that deskmilter writes itself (automatic answers, notifications): header values
// and bodies encoded so that any MTA carries them unchanged.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

namespace desk {

// True when every byte of s is ASCII.
bool IsAscii(const std::string& s);

// A header value of text (a Subject): as it is when it is ASCII, holds no "=?" and fits a line
// (900 bytes); else RFC 2047 base64 words of whole UTF-8 characters, at most 45 bytes each, folded
// with CRLF + space. The caller has removed CR and LF.
std::string EncodeHeaderText(const std::string& s);

// A text body (LF or CRLF line ends) as CRLF lines, and its Content-Transfer-Encoding: "7bit" for
// ASCII lines of at most 900 bytes, else "base64" in lines of 76.
void EncodeTextBody(const std::string& text, std::string* body, std::string* cte);

}  // namespace desk
