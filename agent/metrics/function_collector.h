// A Collectable that asks a function for its families at scrape time: lets the wiring expose the
// state of a layer above metrics/ (the spliced-flow table) without metrics/ depending on it.
#pragma once

#include <prometheus/collectable.h>

#include <functional>
#include <vector>

namespace wsteer::metrics {

class FunctionCollector : public prometheus::Collectable {
 public:
  using Source = std::function<std::vector<prometheus::MetricFamily>()>;
  explicit FunctionCollector(Source source) : source_(std::move(source)) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return source_(); }

 private:
  Source source_;
};

}  // namespace wsteer::metrics
