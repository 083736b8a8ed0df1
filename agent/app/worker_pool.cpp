#include "app/worker_pool.h"

#include <algorithm>

namespace wsteer::app {

WorkerPool::WorkerPool(unsigned count) {
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < count; ++i) {
    owned_.push_back(std::make_unique<boost::asio::io_context>(1));
    contexts_.push_back(owned_.back().get());
  }
}

void WorkerPool::run() {
  for (auto* ctx : contexts_) {
    guards_.push_back(boost::asio::make_work_guard(*ctx));
    threads_.emplace_back([ctx] { ctx->run(); });
  }
}

void WorkerPool::stop() {
  for (auto* ctx : contexts_) ctx->stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  guards_.clear();
}

}  // namespace wsteer::app
