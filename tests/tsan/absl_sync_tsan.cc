// ThreadSanitizer annotations for Debian's prebuilt Abseil synchronization library.
//
// Debian's libabsl_synchronization.so is not built with -fsanitize=thread, so TSan cannot see
// the happens-before edges an absl::Mutex creates: every field guarded by one would be reported
// as racing. Upstream Abseil annotates its mutex with the __tsan_mutex_* interface when it is
// itself built with TSan; this file does the same from the outside. Linked into a TSan test
// binary (SEMREC_TSAN builds only, through semrec_cc_test), its definitions of the Mutex,
// CondVar and Notification entry points take precedence over the shared library's: each one
// announces the operation to TSan, then calls the library's own function (found with
// dlsym(RTLD_NEXT)). Memory accesses inside a lock operation (Condition callbacks included) are
// ignored by TSan, as in upstream's annotations.
//
// Thread contract: as absl::Mutex's. Not for production binaries.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#if !defined(__has_feature) || !__has_feature(thread_sanitizer)
#error "absl_sync_tsan.cc is for clang -fsanitize=thread builds only"
#endif

namespace {

#define SEMREC_STR2(x) #x
#define SEMREC_STR(x) SEMREC_STR2(x)

// The library's own definition of `absl::<inline namespace>::<rest>`, e.g. rest = "5Mutex4LockEv"
// (a const member function's mangled name starts with _ZNK).
template <typename Fn>
Fn Real(const char* rest, bool const_member = false) {
  const std::string ns = SEMREC_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name =
      std::string(const_member ? "_ZNK" : "_ZN") + "4absl" + std::to_string(ns.size()) + ns + rest;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "absl_sync_tsan: %s not found in Abseil\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

// absl::Mutex is one word; bit 3 (kMuWriter in mutex.cc) is set while it is held exclusively.
static_assert(sizeof(absl::Mutex) == sizeof(intptr_t), "unexpected absl::Mutex layout");
constexpr intptr_t kMuWriter = 0x0008;

unsigned HeldFlags(const absl::Mutex* mu) {
  const auto* word = reinterpret_cast<const std::atomic<intptr_t>*>(mu);
  return (word->load(std::memory_order_relaxed) & kMuWriter) ? 0 : __tsan_mutex_read_lock;
}

// The library's functions call each other through the PLT too (AwaitWithTimeout calls
// AwaitWithDeadline, Notify calls Lock), which lands in the definitions below: only the outermost
// call on a thread is announced to TSan.
thread_local int nesting = 0;
class Outermost {
 public:
  Outermost() : outermost_(nesting++ == 0) {}
  ~Outermost() { --nesting; }
  explicit operator bool() const { return outermost_; }

 private:
  const bool outermost_;
};

// Around a call that releases `mu` and holds it again on return (Await, CondVar::Wait).
template <typename F>
auto ReleaseAndReacquire(absl::Mutex* mu, F call) {
  Outermost outermost;
  if (!outermost) return call();
  const unsigned flags = HeldFlags(mu);
  __tsan_mutex_pre_unlock(mu, flags);
  auto result = call();
  __tsan_mutex_post_unlock(mu, flags);
  __tsan_mutex_pre_lock(mu, flags);
  __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

// Around a call that acquires `mu` (whatever it returns, the mutex is held afterwards).
template <typename F>
auto Acquire(absl::Mutex* mu, unsigned flags, F call) {
  Outermost outermost;
  if (!outermost) return call();
  __tsan_mutex_pre_lock(mu, flags);
  auto result = call();
  __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

// Around a call that releases `mu`.
template <typename F>
void Release(absl::Mutex* mu, unsigned flags, F call) {
  Outermost outermost;
  if (outermost) __tsan_mutex_pre_unlock(mu, flags);
  call();
  if (outermost) __tsan_mutex_post_unlock(mu, flags);
}

// Around a call that may acquire `mu` and says whether it did.
template <typename F>
bool TryAcquire(absl::Mutex* mu, unsigned flags, F call) {
  Outermost outermost;
  if (!outermost) return call();
  flags |= __tsan_mutex_try_lock;
  __tsan_mutex_pre_lock(mu, flags);
  const bool locked = call();
  __tsan_mutex_post_lock(mu, locked ? flags : flags | __tsan_mutex_try_lock_failed, 0);
  return locked;
}

// absl::Notification's layout, to find the flag its inline HasBeenNotified() reads.
struct NotificationLayout {
  absl::Mutex mutex;
  std::atomic<bool> notified_yet;
};
static_assert(sizeof(NotificationLayout) == sizeof(absl::Notification),
              "unexpected absl::Notification layout");
const void* NotifiedFlag(const absl::Notification* n) {
  return &reinterpret_cast<const NotificationLayout*>(n)->notified_yet;
}

using Cond = const absl::Condition&;

}  // namespace

// Interceptors (memcpy, ...) called from uninstrumented code are not checked: Abseil's internals
// (its deadlock graph, its allocator) synchronize with spin locks TSan cannot see either.
// TSAN_OPTIONS adds to or overrides these defaults.
extern "C" const char* __tsan_default_options() { return "ignore_noninstrumented_modules=1"; }

namespace absl {
ABSL_NAMESPACE_BEGIN

Mutex::~Mutex() {
  static auto real = Real<void (*)(Mutex*)>("5MutexD1Ev");
  __tsan_mutex_destroy(this, __tsan_mutex_not_static);
  real(this);
}

void Mutex::Lock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex4LockEv");
  Acquire(this, 0, [&] {
    real(this);
    return 0;
  });
}

void Mutex::ReaderLock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  Acquire(this, __tsan_mutex_read_lock, [&] {
    real(this);
    return 0;
  });
}

void Mutex::Unlock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex6UnlockEv");
  Release(this, 0, [&] { real(this); });
}

void Mutex::ReaderUnlock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  Release(this, __tsan_mutex_read_lock, [&] { real(this); });
}

bool Mutex::TryLock() {
  static auto real = Real<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  return TryAcquire(this, 0, [&] { return real(this); });
}

bool Mutex::ReaderTryLock() {
  static auto real = Real<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  return TryAcquire(this, __tsan_mutex_read_lock, [&] { return real(this); });
}

void Mutex::LockWhen(Cond cond) {
  static auto real = Real<void (*)(Mutex*, Cond)>("5Mutex8LockWhenERKNS0_9ConditionE");
  Acquire(this, 0, [&] {
    real(this, cond);
    return 0;
  });
}

void Mutex::ReaderLockWhen(Cond cond) {
  static auto real = Real<void (*)(Mutex*, Cond)>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Acquire(this, __tsan_mutex_read_lock, [&] {
    real(this, cond);
    return 0;
  });
}

bool Mutex::LockWhenWithTimeout(Cond cond, Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, Cond, Duration)>(
      "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Acquire(this, 0, [&] { return real(this, cond, timeout); });
}

bool Mutex::LockWhenWithDeadline(Cond cond, Time deadline) {
  static auto real = Real<bool (*)(Mutex*, Cond, Time)>(
      "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Acquire(this, 0, [&] { return real(this, cond, deadline); });
}

bool Mutex::ReaderLockWhenWithTimeout(Cond cond, Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, Cond, Duration)>(
      "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Acquire(this, __tsan_mutex_read_lock, [&] { return real(this, cond, timeout); });
}

bool Mutex::ReaderLockWhenWithDeadline(Cond cond, Time deadline) {
  static auto real = Real<bool (*)(Mutex*, Cond, Time)>(
      "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Acquire(this, __tsan_mutex_read_lock, [&] { return real(this, cond, deadline); });
}

void Mutex::Await(Cond cond) {
  static auto real = Real<void (*)(Mutex*, Cond)>("5Mutex5AwaitERKNS0_9ConditionE");
  ReleaseAndReacquire(this, [&] {
    real(this, cond);
    return 0;
  });
}

bool Mutex::AwaitWithTimeout(Cond cond, Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, Cond, Duration)>(
      "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return ReleaseAndReacquire(this, [&] { return real(this, cond, timeout); });
}

bool Mutex::AwaitWithDeadline(Cond cond, Time deadline) {
  static auto real =
      Real<bool (*)(Mutex*, Cond, Time)>("5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return ReleaseAndReacquire(this, [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  static auto real = Real<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  ReleaseAndReacquire(mu, [&] {
    real(this, mu);
    return 0;
  });
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, Duration)>(
      "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  return ReleaseAndReacquire(mu, [&] { return real(this, mu, timeout); });
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static auto real =
      Real<bool (*)(CondVar*, Mutex*, Time)>("7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return ReleaseAndReacquire(mu, [&] { return real(this, mu, deadline); });
}

void Notification::Notify() {
  static auto real = Real<void (*)(Notification*)>("12Notification6NotifyEv");
  Outermost outermost;
  if (outermost) {
    __tsan_release(this);
    __tsan_release(const_cast<void*>(NotifiedFlag(this)));
  }
  real(this);
}

void Notification::WaitForNotification() const {
  static auto real = Real<void (*)(const Notification*)>("12Notification19WaitForNotificationEv",
                                                         /*const_member=*/true);
  Outermost outermost;
  real(this);
  if (outermost) __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  static auto real = Real<bool (*)(const Notification*, Duration)>(
      "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", /*const_member=*/true);
  Outermost outermost;
  const bool notified = real(this, timeout);
  if (outermost && notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  static auto real = Real<bool (*)(const Notification*, Time)>(
      "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE", /*const_member=*/true);
  Outermost outermost;
  const bool notified = real(this, deadline);
  if (outermost && notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
