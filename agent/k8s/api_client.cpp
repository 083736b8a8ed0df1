#include "k8s/api_client.h"
// Placeholder until the client lands (same branch).
namespace wsteer::k8s {
struct ApiClient::Impl {};
ApiClient::ApiClient(ClusterConfig config) : config_(std::move(config)) {}
ApiClient::~ApiClient() = default;
}  // namespace wsteer::k8s
