// SHA-256 through OpenSSL's libcrypto (EVP), which uses the CPU's SHA instructions where there are
// any: attachments, spools and long store keys are hashed with it.
//
// Thread-safety: a Sha256 belongs to one thread; Sha256Hex is a pure function.
#pragma once

#include <string>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace desk {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // Lower-case hex of the digest of everything updated so far; the object is spent after it.
  std::string HexDigest();

 private:
  EVP_MD_CTX* ctx_;
};

// Lower-case hex SHA-256 of data.
std::string Sha256Hex(std::string_view data);

}  // namespace desk
