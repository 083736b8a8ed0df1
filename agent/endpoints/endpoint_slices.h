// The EndpointSlices of one Service, as the latest list + watch events left them, and the
// endpoint list they mean for one of the Service's ports. Pure logic: no I/O.
//
// Conditions (discovery.k8s.io/v1; a missing `ready` or `serving` reads as true, a missing
// `terminating` as false, as the API documents):
//   ready                  -> active
//   serving && terminating -> draining (no new flows; established ones stay)
//   anything else          -> left out (the steering drains what leaves the list)
#pragma once

#include "steering/endpoint.h"

#include <boost/json/object.hpp>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace wsteer::endpoints {

class EndpointSliceCache {
 public:
  // port: the slice port to balance, by name ("web") or number ("8080"); empty: the slices must
  // carry exactly one port.
  explicit EndpointSliceCache(std::string port = {});

  // A full list's items replace everything. Returns true when endpoints() changed.
  bool replace(const std::vector<boost::json::object>& slices);
  // One watch event's object: ADDED/MODIFIED upsert by metadata.name, DELETED erases. An object
  // whose metadata.resourceVersion equals the stored one is a repeat and changes nothing.
  // Returns true when endpoints() changed.
  bool upsert(const boost::json::object& slice);
  bool erase(const boost::json::object& slice);

  // The endpoints, sorted by name. Backend name = targetRef.name (the pod) when the endpoint has
  // one, else "ADDRESS:PORT". An address in several slices appears once (ready wins over
  // draining); a pod in both an IPv4 and an IPv6 slice appears once, with its IPv4 address.
  // Endpoints of slices whose addressType is FQDN, or that lack the port, are skipped (and
  // counted in problems()).
  const steering::EndpointList& endpoints() const { return endpoints_; }
  std::size_t slices() const { return slices_.size(); }

  // Human-readable reasons why something in the slices was not used (port not found, ambiguous
  // port, FQDN slice, unparsable address), recomputed on every change; empty when all is well.
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  void rebuild();  // recomputes endpoints_ and problems_ from slices_

  std::string port_;
  std::map<std::string, boost::json::object> slices_;  // by metadata.name
  steering::EndpointList endpoints_;
  std::vector<std::string> problems_;
};

}  // namespace wsteer::endpoints
