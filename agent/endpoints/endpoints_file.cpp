#include "endpoints/endpoints_file.h"

#include "core/unique_fd.h"
#include "endpoints/endpoints_parser.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

namespace wsteer::endpoints {
namespace {

// Far beyond any real list; stops a wrong path (a log, a device) from being slurped.
constexpr std::size_t kMaxFileSize = 1 << 20;

// POSIX rather than iostreams: a read error (EISDIR, EIO) must not pass for an empty list.
Result<std::string> read_text_file(const std::filesystem::path& path) {
  const auto fail = [&](const std::string& why) { return EndpointsError{path.string(), 0, "cannot read: " + why}; };
  const auto errno_text = [] { return std::error_code(errno, std::generic_category()).message(); };

  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail(errno_text());
  std::string text;
  std::array<char, 8192> chunk;
  for (;;) {
    const auto n = ::read(fd.get(), chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno_text());
    // In place: C++20 lets a string construct the aggregate EndpointsError too, which is ambiguous.
    if (n == 0) return {boost::system::in_place_value, std::move(text)};
    text.append(chunk.data(), static_cast<std::size_t>(n));
    if (text.size() > kMaxFileSize) return fail("larger than 1 MiB");
  }
}

}  // namespace

EndpointsFileWatcher::EndpointsFileWatcher(std::filesystem::path path, Callback on_change,
                                           std::chrono::milliseconds debounce)
    : path_(std::move(path)), on_change_(std::move(on_change)), debounce_(debounce) {}

EndpointsFileWatcher::~EndpointsFileWatcher() { stop(); }

Result<void> EndpointsFileWatcher::start() {
  // Watch before the first read, so a change landing in between is not missed.
  const auto directory = path_.has_parent_path() ? path_.parent_path() : std::filesystem::path(".");
  auto watch = DirectoryWatch::open(directory);
  if (!watch)
    return EndpointsError{path_.string(), 0,
                          "cannot watch directory " + directory.string() + ": " + watch.error().message()};
  watch_.emplace(std::move(*watch));

  auto first = reload();
  thread_ = std::thread([this] { run(); });
  return first;
}

void EndpointsFileWatcher::stop() {
  if (watch_) watch_->stop();
  if (thread_.joinable()) thread_.join();
}

Result<void> EndpointsFileWatcher::reload() {
  auto read = read_text_file(path_);
  if (last_read_ == read) return {};
  last_read_ = read;

  auto list = read ? parse_endpoints(*read) : Result<steering::EndpointList>(read.error());
  if (!list) {
    ++reload_errors_;
    auto error = list.error();
    error.source = path_.string();
    return error;
  }
  ++reloads_ok_;
  if (last_good_ != *list) {
    last_good_ = std::move(*list);
    on_change_(*last_good_);
  }
  return {};
}

void EndpointsFileWatcher::run() {
  while (watch_->wait(debounce_) == DirectoryWatch::Wake::changed) {
    if (auto reloaded = reload(); !reloaded) {
      if (last_good_)
        spdlog::warn("endpoints: {}; keeping the last good list ({} backends)", reloaded.error().message(),
                     last_good_->size());
      else
        spdlog::warn("endpoints: {}; still no list loaded", reloaded.error().message());
    }
  }
}

}  // namespace wsteer::endpoints
