// ScopedTempDir: a fresh directory under /tmp for one test, removed with everything in it when
// the object goes away (also when the test fails half-way).
//
//   ScopedTempDir dir;                      // /tmp/semrec-test-XXXXXX
//   options.data_dir = dir.path();
//
// Thread-compatible.
#ifndef SEMREC_CORE_STORAGE_TESTING_TEMP_DIR_H_
#define SEMREC_CORE_STORAGE_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <string>

#include "core/storage/record_file.h"

namespace semrec {

class ScopedTempDir {
 public:
  ScopedTempDir() {
    char name[] = "/tmp/semrec-test-XXXXXX";
    if (::mkdtemp(name) != nullptr) path_ = name;
  }
  ~ScopedTempDir() {
    if (!path_.empty()) (void)RemoveTree(path_);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  // Empty when the directory could not be created.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace semrec

#endif  // SEMREC_CORE_STORAGE_TESTING_TEMP_DIR_H_
