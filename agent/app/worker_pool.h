// The agent's worker threads: one io_context each, so a connection's handshake and relay stay on
// one thread. Built before the Services (they hand their accepted connections to these), run by
// run(), stopped and joined by stop().
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <thread>
#include <vector>

namespace wsteer::app {

class WorkerPool {
 public:
  explicit WorkerPool(unsigned count);  // 0: one per core
  ~WorkerPool() { stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  const std::vector<boost::asio::io_context*>& contexts() const { return contexts_; }
  unsigned size() const { return static_cast<unsigned>(contexts_.size()); }
  void run();
  // Stops every worker (what runs on them is dropped) and joins the threads.
  void stop();

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> owned_;
  std::vector<boost::asio::io_context*> contexts_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

}  // namespace wsteer::app
