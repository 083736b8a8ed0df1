// A throwaway PKI for TLS tests: a self-signed CA and a serving certificate it signs, generated in
// memory with the OpenSSL API (no `openssl` binary, no files unless the caller writes them).
#pragma once

#include <string>
#include <vector>

namespace wsteer::test {

struct TestPki {
  std::string ca_cert_pem;      // the CA clients verify against
  std::string server_cert_pem;  // leaf, signed by the CA
  std::string server_key_pem;   // PKCS#8, unencrypted
};

// EC P-256 keys; the leaf has the given IP literals and DNS names as subjectAltNames,
// extendedKeyUsage serverAuth, and is valid from an hour ago for a day. Throws std::runtime_error
// with the OpenSSL error text on failure.
TestPki make_test_pki(const std::vector<std::string>& ip_sans, const std::vector<std::string>& dns_sans,
                      const std::string& common_name = "wsteer-test-apiserver");

}  // namespace wsteer::test
