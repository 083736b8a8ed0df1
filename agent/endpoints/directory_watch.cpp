#include "endpoints/directory_watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>

namespace wsteer::endpoints {
namespace {

// A file written in place counts once its writer closes it (not on every write), so a half-written
// file is not read; creations, deletions and renames cover replacement by rename and symlink swaps.
constexpr std::uint32_t kEvents = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR;

constexpr auto kMaxDelay = std::chrono::seconds(1);

boost::system::error_code last_error() { return {errno, boost::system::system_category()}; }

}  // namespace

boost::system::result<DirectoryWatch> DirectoryWatch::open(const std::filesystem::path& directory) {
  UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify) return last_error();
  if (::inotify_add_watch(inotify.get(), directory.c_str(), kEvents) < 0) return last_error();
  UniqueFd stop_event(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!stop_event) return last_error();
  return DirectoryWatch(std::move(inotify), std::move(stop_event));
}

DirectoryWatch::DirectoryWatch(UniqueFd inotify, UniqueFd stop_event)
    : inotify_(std::move(inotify)), stop_event_(std::move(stop_event)) {}

DirectoryWatch::Wake DirectoryWatch::wait(std::chrono::milliseconds quiet) {
  auto ready = poll(-1);
  if (ready.stopped) return Wake::stopped;

  const auto deadline = std::chrono::steady_clock::now() + kMaxDelay;
  while (ready.changed) {
    drain_events();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    ready = poll(static_cast<int>(std::min(quiet, left).count()));
    if (ready.stopped) return Wake::stopped;
  }
  return Wake::changed;
}

void DirectoryWatch::stop() {
  const std::uint64_t one = 1;
  // Cannot fail short of a counter overflow, which a sticky flag does not care about.
  [[maybe_unused]] const auto written = ::write(stop_event_.get(), &one, sizeof one);
}

DirectoryWatch::Ready DirectoryWatch::poll(int timeout_ms) const {
  std::array<pollfd, 2> fds{{{inotify_.get(), POLLIN, 0}, {stop_event_.get(), POLLIN, 0}}};
  while (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno == EINTR) {
  }
  return {(fds[0].revents & POLLIN) != 0, (fds[1].revents & POLLIN) != 0};
}

// The events' content does not matter: any change means "read the file again".
void DirectoryWatch::drain_events() const {
  alignas(inotify_event) std::array<char, 4096> buffer;
  while (::read(inotify_.get(), buffer.data(), buffer.size()) > 0) {
  }
}

}  // namespace wsteer::endpoints
