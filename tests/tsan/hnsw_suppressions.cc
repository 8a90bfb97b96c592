// ThreadSanitizer suppressions for the races HnswIndex has by design (SEMREC_TSAN builds only,
// linked into every semrec_cc_test binary with absl_sync_tsan.cc).
//
// HnswIndex links a new item into the graph while searches walk it (core/index/hnsw_index.cc,
// HnswIndex::Impl): hnswlib writes link lists under its per-element locks, and searches read them
// without locks, as relaxed atomic loads of link counts and links; they may also read the vector
// of the element being inserted before the insert is done. Each such read sees an old or a new
// value of an existing element, never a torn one (aligned 2- and 4-byte loads), and a search does
// not serve the new element until it is published under the index's write lock. TSan reports
// these reads because hnswlib's writes are plain stores: the suppressions name only the two
// functions that walk the graph, so any other race in the index is still reported.
//
// Thread contract: none (a constant string). Not for production binaries.
#if !defined(__has_feature) || !__has_feature(thread_sanitizer)
#error "hnsw_suppressions.cc is for clang -fsanitize=thread builds only"
#endif

extern "C" const char* __tsan_default_suppressions() {
  return "race:semrec::*SearchBaseLayer\n"
         "race:semrec::*DescendToBaseLayer\n";
}
