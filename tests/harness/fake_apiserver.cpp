#include "harness/fake_apiserver.h"

#include "harness/fake_apiserver_api.h"
#include "harness/test_ca.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace wsteer::test {
namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// Sockets created while this lives are in the namespace (setns is per thread); the same as
// NetnsGuard in netns.h, repeated because that library links GoogleTest and this one must not.
class ScopedNetns {
 public:
  explicit ScopedNetns(const std::string& name) {
    original_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const int target = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (original_ < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
      if (target >= 0) ::close(target);
      if (original_ >= 0) ::close(original_);
      throw std::runtime_error("fake apiserver: cannot enter network namespace " + name);
    }
    ::close(target);
  }
  ~ScopedNetns() {
    ::setns(original_, CLONE_NEWNET);
    ::close(original_);
  }
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

 private:
  int original_ = -1;
};

struct Conn {
  Conn(tcp::socket socket, ssl::context& tls) : stream(std::move(socket), tls) {}
  ssl::stream<tcp::socket> stream;
  beast::flat_buffer buffer;
  void close() {
    boost::system::error_code ec;
    stream.lowest_layer().close(ec);
  }
};

// A watch being streamed; touched on the io thread only.
struct Watch {
  explicit Watch(asio::io_context& io) : wake(io) {}
  asio::steady_timer wake;
  bool pending = false;      // something happened since the last look
  int drop = 0;              // 1: close, 2: half an event then close
  bool closing = false;      // the server stops
  bool client_gone = false;  // the reader saw EOF or an error
  bool reader_done = false;
  void notify() {
    pending = true;
    wake.cancel();
  }
};

}  // namespace

struct FakeApiServer::Impl {
  explicit Impl(FakeApiServerOptions o) : options(std::move(o)) {}

  FakeApiServerOptions options;
  // Declared first so it is destroyed last: coroutine frames it still holds own sockets and timers.
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  ssl::context tls{ssl::context::tls_server};
  tcp::endpoint endpoint;
  std::shared_ptr<tcp::acceptor> acceptor;  // io thread, or any thread while no accept loop runs
  std::filesystem::path dir, ca_path;
  std::string ca_pem;
  std::thread thread;
  std::promise<void> io_done;

  mutable std::mutex mu;  // guards state
  fake::ApiState state;
  std::atomic<std::size_t> open_watches{0};

  // io thread only:
  std::map<std::uint64_t, std::weak_ptr<Conn>> conns;
  std::uint64_t next_conn = 0;
  std::set<std::shared_ptr<Watch>> watches;

  template <typename F>
  void on_io(F&& fn) {  // runs fn on the io thread and waits for it
    std::packaged_task<void()> task(std::forward<F>(fn));
    auto done = task.get_future();
    asio::post(io, std::move(task));
    done.get();
  }

  void notify_watches() {
    asio::post(io, [this] {
      for (const auto& w : watches) w->notify();
    });
  }

  std::shared_ptr<tcp::acceptor> listen() {
    std::optional<ScopedNetns> in_ns;
    if (!options.netns.empty()) in_ns.emplace(options.netns);
    auto acc = std::make_shared<tcp::acceptor>(io);
    acc->open(endpoint.protocol());
    acc->set_option(asio::socket_base::reuse_address(true));
    if (endpoint.address().is_v6()) acc->set_option(asio::ip::v6_only(true));
    acc->bind(endpoint);
    acc->listen();
    return acc;
  }

  asio::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acc) {
    while (acc->is_open()) {
      auto [ec, socket] = co_await acc->async_accept(kUse);
      if (ec == asio::error::operation_aborted || !acc->is_open()) break;
      if (ec) continue;
      auto conn = std::make_shared<Conn>(std::move(socket), tls);
      const auto id = next_conn++;
      conns[id] = conn;
      asio::co_spawn(io, serve(conn, id), asio::detached);
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<Conn> c, std::uint64_t id) {
    auto [hec] = co_await c->stream.async_handshake(ssl::stream_base::server, kUse);
    bool open = !hec;
    while (open) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(16 * 1024 * 1024);
      auto [ec, n] = co_await http::async_read(c->stream, c->buffer, parser, kUse);
      if (ec) break;
      fake::Request req = parser.release();
      fake::Outcome out;
      {
        std::lock_guard lock(mu);
        out = fake::handle_request(state, req);
      }
      if (out.store_changed)
        for (const auto& w : watches) w->notify();
      if (out.watch) {
        open = co_await stream_watch(c, std::move(*out.watch), req.keep_alive());
        continue;
      }
      auto [wec, wn] = co_await http::async_write(c->stream, out.response, kUse);
      open = !wec && out.response.keep_alive();
    }
    c->close();
    conns.erase(id);
  }

  // Reads while a watch streams, only to notice the client going away (the real server ends the
  // watch then); any bytes are kept for the next request.
  static asio::awaitable<void> watch_reader(std::shared_ptr<Conn> c, std::shared_ptr<Watch> w) {
    auto [ec, n] = co_await c->stream.async_read_some(c->buffer.prepare(4096), kUse);
    c->buffer.commit(n);
    if (ec && ec != asio::error::operation_aborted) w->client_gone = true;
    w->reader_done = true;
    w->notify();
  }

  // Returns whether the connection stays usable for another request.
  asio::awaitable<bool> stream_watch(std::shared_ptr<Conn> c, fake::WatchPlan plan, bool keep_alive) {
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-cache, private");
    res.chunked(true);
    res.keep_alive(keep_alive);
    auto w = std::make_shared<Watch>(io);
    // Events after the requested resourceVersion that happened before this watch was registered
    // (e.g. between a client's list and its watch) are replayed at once, as the real server
    // does, not on the next write or at timeoutSeconds.
    w->pending = true;
    watches.insert(w);
    ++open_watches;
    http::response_serializer<http::empty_body> sr{res};
    auto [hec, hn] = co_await http::async_write_header(c->stream, sr, kUse);
    bool ok = !hec;
    if (ok) asio::co_spawn(io, watch_reader(c, w), asio::detached);

    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + plan.timeout;
    const bool bookmarks = plan.bookmarks && options.bookmark_interval.count() > 0;
    auto next_bookmark = bookmarks ? clock::now() + options.bookmark_interval : clock::time_point::max();
    std::vector<std::string> lines = std::move(plan.initial_lines);
    bool finish = plan.ends_after_initial;  // write the last chunk after these lines
    while (ok) {
      for (const auto& line : lines) {
        auto [ec, n] = co_await asio::async_write(c->stream, http::make_chunk(asio::buffer(line)), kUse);
        if (ec) {
          ok = false;
          break;
        }
      }
      lines.clear();
      if (!ok) break;
      if (w->closing || w->client_gone) {
        ok = false;
        break;
      }
      if (w->drop) {
        if (w->drop == 2) {
          std::string half;
          {
            std::lock_guard lock(mu);
            half = fake::partial_line(plan);
          }
          co_await asio::async_write(c->stream, http::make_chunk(asio::buffer(half)), kUse);
        }
        ok = false;
        break;
      }
      if (finish || clock::now() >= deadline) {
        auto [ec, n] = co_await asio::async_write(c->stream, http::make_chunk_last(), kUse);
        ok = !ec;
        break;
      }
      if (!w->pending) {
        w->wake.expires_at(std::min(deadline, next_bookmark));
        co_await w->wake.async_wait(kUse);
      }
      w->pending = false;
      {
        std::lock_guard lock(mu);
        lines = fake::next_watch_lines(state, plan);
        if (bookmarks && clock::now() >= next_bookmark) {
          lines.push_back(fake::bookmark_line(plan));
          next_bookmark = clock::now() + options.bookmark_interval;
        }
      }
    }
    watches.erase(w);
    --open_watches;
    if (!ok) c->close();  // a broken stream: abrupt close, no close_notify
    if (!hec && !w->reader_done) {
      boost::system::error_code ignored;
      c->stream.lowest_layer().cancel(ignored);
      while (!w->reader_done) {
        w->wake.expires_after(std::chrono::seconds(1));
        co_await w->wake.async_wait(kUse);
      }
    }
    co_return ok && keep_alive && !w->client_gone;
  }

  void close_all() {  // io thread
    if (acceptor) {
      boost::system::error_code ignored;
      acceptor->close(ignored);
    }
    for (const auto& w : watches) {
      w->closing = true;
      w->notify();
    }
    for (auto& [id, weak] : conns)
      if (auto c = weak.lock()) c->close();
  }
};

FakeApiServer::FakeApiServer(FakeApiServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  auto& im = *impl_;
  im.state.tokens = im.options.tokens;
  im.state.list_items_type_meta = im.options.list_items_type_meta;
  const auto address = asio::ip::make_address(im.options.address);
  im.endpoint = tcp::endpoint(address, im.options.port);

  const auto pki = make_test_pki({im.options.address}, {"localhost", "kubernetes", "kubernetes.default",
                                                         "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"});
  im.ca_pem = pki.ca_cert_pem;
  char tmpl[] = "/tmp/wsteer-fake-apiserver-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("fake apiserver: mkdtemp failed");
  im.dir = tmpl;
  im.ca_path = im.dir / "ca.crt";
  std::ofstream(im.ca_path) << pki.ca_cert_pem;

  im.tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  im.tls.use_certificate_chain(asio::buffer(pki.server_cert_pem));
  im.tls.use_private_key(asio::buffer(pki.server_key_pem), ssl::context::pem);

  im.acceptor = im.listen();
  im.endpoint.port(im.acceptor->local_endpoint().port());  // restart() reuses it
  asio::co_spawn(im.io, im.accept_loop(im.acceptor), asio::detached);
  im.thread = std::thread([&im] {
    im.io.run();
    im.io_done.set_value();
  });
}

FakeApiServer::~FakeApiServer() {
  auto& im = *impl_;
  im.on_io([&im] { im.close_all(); });
  im.work.reset();
  // Every coroutine ends once its socket is closed; a straggler must not hang the test.
  if (im.io_done.get_future().wait_for(std::chrono::seconds(2)) != std::future_status::ready) im.io.stop();
  im.thread.join();
  std::error_code ignored;
  std::filesystem::remove_all(im.dir, ignored);
}

unsigned short FakeApiServer::port() const { return impl_->endpoint.port(); }

std::string FakeApiServer::url() const {
  const auto& a = impl_->endpoint.address();
  const std::string host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
  return "https://" + host + ":" + std::to_string(port());
}

const std::filesystem::path& FakeApiServer::ca_file() const { return impl_->ca_path; }
std::string FakeApiServer::ca_pem() const { return impl_->ca_pem; }

void FakeApiServer::set_tokens(std::vector<std::string> tokens) {
  std::lock_guard lock(impl_->mu);
  impl_->state.tokens = std::move(tokens);
}

void FakeApiServer::set_user(const std::string& token, const std::string& user) {
  std::lock_guard lock(impl_->mu);
  impl_->state.users[token] = user;
}

void FakeApiServer::allow(const std::string& token, const std::string& verb, const std::string& group,
                          const std::string& resource, const std::string& ns, std::vector<std::string> resource_names) {
  std::lock_guard lock(impl_->mu);
  impl_->state.rules.push_back({token, verb, group, resource, ns, std::move(resource_names)});
}

void FakeApiServer::clear_rules() {
  std::lock_guard lock(impl_->mu);
  impl_->state.rules.clear();
}

std::string FakeApiServer::apply(const std::string& group_version, const std::string& resource, json::object obj) {
  const auto& rt = fake::resource_type(group_version, resource);
  const std::string ns(fake::meta_string(obj, "namespace"));
  const std::string name(fake::meta_string(obj, "name"));
  if (ns.empty() || name.empty())
    throw std::invalid_argument("fake apiserver: apply needs metadata.namespace and metadata.name");
  std::string rv;
  {
    std::lock_guard lock(impl_->mu);
    auto& store = impl_->state.store;
    const auto& stored = store.get(rt, ns, name) ? store.update(rt, std::move(obj)) : store.create(rt, std::move(obj));
    rv = fake::meta_string(stored, "resourceVersion");
  }
  impl_->notify_watches();
  return rv;
}

void FakeApiServer::remove(const std::string& group_version, const std::string& resource, const std::string& ns,
                           const std::string& name) {
  const auto& rt = fake::resource_type(group_version, resource);
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->state.store.get(rt, ns, name))
      throw std::out_of_range("fake apiserver: no " + resource + " " + ns + "/" + name + " to remove");
    impl_->state.store.remove(rt, ns, name);
  }
  impl_->notify_watches();
}

std::optional<json::object> FakeApiServer::get(const std::string& group_version, const std::string& resource,
                                               const std::string& ns, const std::string& name) const {
  const auto& rt = fake::resource_type(group_version, resource);
  std::lock_guard lock(impl_->mu);
  if (const auto* obj = impl_->state.store.get(rt, ns, name)) return *obj;
  return std::nullopt;
}

std::string FakeApiServer::put_endpoint_slice(json::object slice) {
  return apply("discovery.k8s.io/v1", "endpointslices", std::move(slice));
}

void FakeApiServer::delete_endpoint_slice(const std::string& ns, const std::string& name) {
  remove("discovery.k8s.io/v1", "endpointslices", ns, name);
}

std::string FakeApiServer::resource_version() const {
  std::lock_guard lock(impl_->mu);
  return std::to_string(impl_->state.store.revision());
}

void FakeApiServer::compact() {
  std::lock_guard lock(impl_->mu);
  impl_->state.store.compact();
}

void FakeApiServer::drop_connections(bool mid_event) {
  impl_->on_io([this, mid_event] {
    for (const auto& w : impl_->watches) {
      w->drop = mid_event ? 2 : 1;
      w->notify();
    }
  });
}

void FakeApiServer::set_unavailable(bool down) {
  std::lock_guard lock(impl_->mu);
  impl_->state.unavailable = down;
}

void FakeApiServer::stop() {
  impl_->on_io([this] {
    impl_->close_all();
    impl_->acceptor.reset();
  });
}

void FakeApiServer::restart() {
  auto& im = *impl_;
  bool running = false;
  im.on_io([&] { running = im.acceptor != nullptr; });
  if (running) return;
  auto acc = im.listen();  // on this thread: it may have to enter the namespace
  im.on_io([&] {
    im.acceptor = acc;
    asio::co_spawn(im.io, im.accept_loop(acc), asio::detached);
  });
}

std::size_t FakeApiServer::list_requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->state.lists;
}

std::size_t FakeApiServer::watch_requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->state.watches;
}

std::size_t FakeApiServer::open_watches() const { return impl_->open_watches.load(); }

std::vector<std::string> FakeApiServer::seen_tokens() const {
  std::lock_guard lock(impl_->mu);
  return impl_->state.seen_tokens;
}

std::vector<std::string> FakeApiServer::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->state.requests;
}

}  // namespace wsteer::test
