#include "endpoints/endpoint_slice_source.h"

#include "k8s/api_error.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <random>
#include <utility>
#include <vector>

namespace wsteer::endpoints {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using k8s::ApiError;
using k8s::ApiErrorReason;

std::string encode(std::string_view text) { return boost::urls::encode(text, boost::urls::unreserved_chars); }

std::string_view string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  const auto* s = v ? v->if_string() : nullptr;
  return s ? std::string_view(*s) : std::string_view();
}

const json::object* object_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? v->if_object() : nullptr;
}

// The reason an ERROR watch event's Status stands for, as the client maps HTTP statuses.
ApiErrorReason reason_of_status(std::int64_t code) {
  switch (code) {
    case 401: return ApiErrorReason::unauthorized;
    case 403: return ApiErrorReason::forbidden;
    case 404: return ApiErrorReason::not_found;
    case 410: return ApiErrorReason::gone;
    default: return ApiErrorReason::server;
  }
}

// A relist that hits 410 again at once (twice in a row, before any event came through) goes the
// backoff way instead, so a server that keeps saying Gone cannot make us spin.
constexpr int kMaxGoneInARow = 2;
// Continue tokens expire with compaction; a list restarts from scratch this many times.
constexpr int kMaxListRestarts = 3;
// Beyond timeoutSeconds: how long a watch may stay silent before we call it dead.
constexpr std::chrono::seconds kIdleSlack{30};

}  // namespace

struct EndpointSliceSource::Impl {
  Impl(std::shared_ptr<k8s::ApiClient> c, EndpointSliceSourceOptions o, Callback cb, EndpointSliceObserver* obs,
       std::atomic<bool>& synced_flag)
      : client(std::move(c)),
        options(std::move(o)),
        on_change(std::move(cb)),
        observer(obs ? obs : &null_observer),
        synced(synced_flag),
        cache(options.port),
        random(std::random_device{}()),
        backoff(options.backoff_initial) {
    collection = "/apis/discovery.k8s.io/v1/namespaces/" + encode(options.ns) +
                 "/endpointslices?labelSelector=" + encode("kubernetes.io/service-name=" + options.service);
    what = "EndpointSlices of " + options.ns + "/" + options.service;
  }

  asio::awaitable<void> run();
  asio::awaitable<void> list();
  asio::awaitable<void> watch();
  void on_event(const json::object& event);
  // The cache reports every change, and each one is delivered, so what on_change last got is
  // always the cache's previous state: no copy of it is kept to compare against.
  void deliver(bool changed);
  void log_problems();
  void succeeded();
  void failed(ApiErrorReason reason, const std::string& message);
  std::chrono::milliseconds next_backoff();
  std::chrono::seconds jittered_watch_timeout();

  std::shared_ptr<k8s::ApiClient> client;
  EndpointSliceSourceOptions options;
  Callback on_change;
  EndpointSliceObserver null_observer;
  EndpointSliceObserver* observer;
  std::atomic<bool>& synced;

  std::string collection;  // the list URL up to and including the label selector
  std::string what;        // for log lines

  EndpointSliceCache cache;
  bool delivered_once = false;  // on_change has had the first list
  std::string last_rv;          // of the list, then of every event
  std::vector<std::string> logged_problems;
  bool listed_once = false;
  int gone_in_a_row = 0;

  std::optional<ApiErrorReason> failing;  // the reason last logged, while failing
  std::size_t failures = 0;
  std::mt19937_64 random;
  std::chrono::milliseconds backoff;

  std::optional<asio::io_context> io{std::in_place};
  std::thread thread;
};

asio::awaitable<void> EndpointSliceSource::Impl::run() {
  bool need_list = true;
  for (;;) {
    std::optional<ApiErrorReason> reason;
    std::string message;
    try {
      if (need_list || last_rv.empty()) {
        co_await list();
        need_list = false;
      }
      co_await watch();  // ended cleanly (timeoutSeconds): renewed from last_rv at once
      succeeded();
      gone_in_a_row = 0;
      continue;
    } catch (const ApiError& e) {
      reason = e.reason();
      message = e.what();
    } catch (const std::exception& e) {  // not from the client: a bug or a surprise; retry anyway
      reason = ApiErrorReason::decode;
      message = e.what();
    }

    if (*reason == ApiErrorReason::gone && ++gone_in_a_row <= kMaxGoneInARow) {
      // resourceVersion too old (compaction, long outage): a fresh list, and the cache turns it
      // into just the difference.
      spdlog::info("{}: {}; relisting", what, message);
      need_list = true;
      continue;
    }
    gone_in_a_row = 0;
    failed(*reason, message);
    // Re-watch from where we were; only a source that never got a list lists again.
    need_list = need_list || last_rv.empty();
    asio::steady_timer timer(co_await asio::this_coro::executor, next_backoff());
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> EndpointSliceSource::Impl::list() {
  for (int restart = 0;; ++restart) {
    std::vector<json::object> items;
    std::string continue_token, rv;
    try {
      do {
        auto target = collection + "&limit=" + std::to_string(options.page_size);
        if (!continue_token.empty()) target += "&continue=" + encode(continue_token);
        auto page = co_await client->get(std::move(target), options.request_timeout);
        if (const auto* array = page.if_contains("items"); array && array->is_array())
          for (auto& item : array->get_array())
            if (item.is_object()) items.push_back(std::move(item.get_object()));
        const auto* meta = object_at(page, "metadata");
        continue_token = meta ? std::string(string_at(*meta, "continue")) : std::string();
        if (meta) rv = string_at(*meta, "resourceVersion");
      } while (!continue_token.empty());
    } catch (const ApiError& e) {
      // The continue token outlived the server's history: the pages so far are of a snapshot we
      // can no longer finish, so start over.
      if (e.reason() == ApiErrorReason::gone && !continue_token.empty() && restart < kMaxListRestarts) {
        // Debug: under heavy churn this can repeat; the outcome (listed, or an error) is logged.
        spdlog::debug("{}: list continuation expired ({}); listing again from the start", what, e.what());
        continue;
      }
      throw;
    }

    if (rv.empty()) throw ApiError(ApiErrorReason::decode, "the EndpointSlice list has no metadata.resourceVersion");
    last_rv = std::move(rv);
    const bool changed = cache.replace(items);
    if (listed_once) observer->relisted();
    if (!listed_once)
      spdlog::info("{}: listed {} slice(s), {} endpoint(s)", what, cache.slices(), cache.endpoints().size());
    listed_once = true;
    succeeded();
    log_problems();
    synced.store(true);  // before on_change, so that it already reads true there
    deliver(changed);
    observer->synced();
    co_return;
  }
}

asio::awaitable<void> EndpointSliceSource::Impl::watch() {
  // Jittered so that the agents of a whole cluster do not renew their watches in lockstep.
  const auto timeout = jittered_watch_timeout();
  auto target = collection + "&watch=true&allowWatchBookmarks=true&resourceVersion=" + encode(last_rv) +
                "&timeoutSeconds=" + std::to_string(timeout.count());
  co_await client->watch(std::move(target), std::chrono::duration_cast<std::chrono::milliseconds>(timeout + kIdleSlack),
                         [this](const json::object& event) { on_event(event); });
}

void EndpointSliceSource::Impl::on_event(const json::object& event) {
  const auto type = string_at(event, "type");
  observer->watch_event(type);
  const auto* object = object_at(event, "object");
  if (!object) throw ApiError(ApiErrorReason::decode, "a watch event without an object");

  if (type == "ERROR") {
    // A Status: {"kind":"Status","code":410,"reason":"Expired","message":"too old resource version: ..."}.
    const auto* code = object->if_contains("code");
    const std::int64_t status = code && code->is_int64() ? code->get_int64() : 0;
    const auto message = string_at(*object, "message");
    throw ApiError(reason_of_status(status),
                   "watch ERROR event " + std::to_string(status) + ": " + std::string(message.empty() ? "(no message)" : message),
                   static_cast<int>(status));
  }

  if (const auto* meta = object_at(*object, "metadata")) {
    const auto rv = string_at(*meta, "resourceVersion");
    if (!rv.empty()) last_rv = rv;
  }
  bool changed = false;
  if (type == "ADDED" || type == "MODIFIED")
    changed = cache.upsert(*object);
  else if (type == "DELETED")
    changed = cache.erase(*object);
  // BOOKMARK: only the resourceVersion; anything else: a type we do not know, ignored.

  gone_in_a_row = 0;
  succeeded();
  if (changed) log_problems();
  deliver(changed);
  observer->synced();
}

void EndpointSliceSource::Impl::deliver(bool changed) {
  if (delivered_once && !changed) return;
  delivered_once = true;
  on_change(cache.endpoints());
}

void EndpointSliceSource::Impl::log_problems() {
  if (cache.problems() == logged_problems) return;
  logged_problems = cache.problems();
  if (logged_problems.empty()) spdlog::info("{}: every slice is usable again", what);
  for (const auto& problem : logged_problems) spdlog::warn("{}: {}", what, problem);
}

void EndpointSliceSource::Impl::succeeded() {
  backoff = options.backoff_initial;
  if (!failing) return;
  spdlog::info("{}: recovered after {} failed attempt(s)", what, failures);
  failing.reset();
  failures = 0;
}

void EndpointSliceSource::Impl::failed(ApiErrorReason reason, const std::string& message) {
  observer->error(reason);
  ++failures;
  if (failing == reason) return;  // one line per reason, not per retry
  const auto kept = delivered_once ? "keeping the last list (" + std::to_string(cache.endpoints().size()) + " endpoints)"
                              : std::string("no list yet");
  spdlog::warn("{}: {}{} ({}); retrying with backoff, {}", what, failing ? "still failing: " : "", message,
               k8s::to_string(reason), kept);
  failing = reason;
}

std::chrono::milliseconds EndpointSliceSource::Impl::next_backoff() {
  // Full jitter (uniform in [0, backoff]): retries of many agents spread out instead of
  // hitting a recovering API server together.
  const auto ceiling = std::max<std::int64_t>(backoff.count(), 1);
  const auto wait = std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(0, ceiling)(random));
  backoff = std::min(options.backoff_max, std::max(backoff * 2, std::chrono::milliseconds(1)));
  return wait;
}

std::chrono::seconds EndpointSliceSource::Impl::jittered_watch_timeout() {
  const double factor = std::uniform_real_distribution<double>(0.9, 1.1)(random);
  const auto seconds = static_cast<std::int64_t>(static_cast<double>(options.watch_timeout.count()) * factor + 0.5);
  return std::chrono::seconds(std::max<std::int64_t>(seconds, 1));
}

EndpointSliceSource::EndpointSliceSource(std::shared_ptr<k8s::ApiClient> client, EndpointSliceSourceOptions options,
                                         Callback on_change, EndpointSliceObserver* observer)
    : impl_(std::make_unique<Impl>(std::move(client), std::move(options), std::move(on_change), observer, synced_)) {}

EndpointSliceSource::~EndpointSliceSource() { stop(); }

void EndpointSliceSource::start() {
  if (impl_->thread.joinable() || !impl_->io) return;
  auto* impl = impl_.get();
  asio::co_spawn(*impl->io, impl->run(), [impl](std::exception_ptr e) {
    // run() loops until stopped; reaching here means a bug, and the last list stays in force.
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("{}: the watch loop ended: {}", impl->what, ex.what());
    }
  });
  impl->thread = std::thread([impl] { impl->io->run(); });
}

void EndpointSliceSource::stop() {
  if (!impl_ || !impl_->io) return;
  // Stopping the io_context interrupts whatever the loop waits on (a request, a watch read, a
  // backoff timer): no handler, hence no on_change, runs after run() returns.
  impl_->io->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  // Destroying the io_context destroys the suspended coroutine, which closes its connection now
  // rather than when the source is destroyed.
  impl_->io.reset();
}

}  // namespace wsteer::endpoints
