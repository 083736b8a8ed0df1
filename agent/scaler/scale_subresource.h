// The `scale` subresource (autoscaling/v1 Scale) of a Deployment or StatefulSet: what the scaler
// reads for the current replicas and the merge patch it sends for the desired ones. Pure JSON;
// the agent does the GET and PATCH with the API client.
#pragma once

#include <boost/json/object.hpp>

#include <string>

namespace wsteer::scaler {

struct ScaleState {
  int spec_replicas = 0;    // what the workload is set to (absent in the JSON means 0: omitempty)
  int status_replicas = 0;  // what it has now
  std::string selector;     // status.selector: the pods' label selector, as a string
  std::string resource_version;
};

// Reads a Scale object as GET .../scale returns it. Throws std::invalid_argument naming the
// field when it is not a Scale (wrong kind, negative or non-integer replicas).
ScaleState read_scale(const boost::json::object& scale);

// The body of PATCH .../scale (Content-Type: application/merge-patch+json) setting spec.replicas.
// With a resource_version the server applies it only if the Scale has not changed since it was
// read (409 otherwise), so a hand-made change in between is never overwritten blindly.
boost::json::object scale_patch(int replicas, const std::string& resource_version = "");

}  // namespace wsteer::scaler
