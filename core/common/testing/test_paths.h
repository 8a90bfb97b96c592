// Where tests find their data: the shared folder (tokenizer goldens, datasets), the build's
// generated test data (the demo encoder) and the source tree. Each is taken from an environment
// variable when set (SEMREC_SHARED_DIR, SEMREC_TESTDATA_DIR, SEMREC_SOURCE_DIR), else from the
// value CMake compiled in, so a test binary run by hand finds the same files as under CTest.
//
//   std::string model_dir = semrec::TestDataDir() + "/encoder";
//
// Thread-safe: reads the environment only.
#ifndef SEMREC_CORE_COMMON_TESTING_TEST_PATHS_H_
#define SEMREC_CORE_COMMON_TESTING_TEST_PATHS_H_

#include <cstdlib>
#include <string>

namespace semrec {

inline std::string TestPathFromEnv(const char* name, const char* compiled_default) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::string(v) : std::string(compiled_default);
}

inline std::string TestSharedDir() { return TestPathFromEnv("SEMREC_SHARED_DIR", SEMREC_TEST_SHARED_DIR); }
inline std::string TestDataDir() {
  return TestPathFromEnv("SEMREC_TESTDATA_DIR", SEMREC_TEST_TESTDATA_DIR);
}
inline std::string TestSourceDir() { return TestPathFromEnv("SEMREC_SOURCE_DIR", SEMREC_TEST_SOURCE_DIR); }

}  // namespace semrec

#endif  // SEMREC_CORE_COMMON_TESTING_TEST_PATHS_H_
