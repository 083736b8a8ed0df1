#include "datapath/kernel_objects.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace wsteer::datapath {

VerdictAttachment::VerdictAttachment(int prog_fd, int map_fd, int attach_type, const char* what) {
  if (bpf_prog_attach(prog_fd, map_fd, static_cast<bpf_attach_type>(attach_type), 0) != 0)
    throw std::system_error(errno, std::generic_category(), std::string("attach ") + what);
  prog_fd_ = prog_fd;
  map_fd_ = map_fd;
  type_ = attach_type;
}

VerdictAttachment& VerdictAttachment::operator=(VerdictAttachment&& o) noexcept {
  if (this != &o) {
    reset();
    prog_fd_ = std::exchange(o.prog_fd_, -1);
    map_fd_ = std::exchange(o.map_fd_, -1);
    type_ = o.type_;
  }
  return *this;
}

void VerdictAttachment::reset() noexcept {
  if (prog_fd_ < 0) return;
  // Closing the map's last descriptor would drop the program too; detaching first keeps a map that
  // someone else still holds (a pin another process opened, wsteerctl) from running our program.
  if (bpf_prog_detach2(prog_fd_, map_fd_, static_cast<bpf_attach_type>(type_)) != 0)
    spdlog::warn("detach the splice verdict: {}", std::strerror(errno));
  prog_fd_ = map_fd_ = -1;
}

PinnedObjectMaps::PinnedObjectMaps(bpf_object* object, std::filesystem::path folder) : folder_(std::move(folder)) {
  if (int err = bpf_object__pin_maps(object, folder_.c_str()); err)
    throw std::system_error(-err, std::generic_category(), "pin maps in " + folder_.string());
  object_ = object;
}

PinnedObjectMaps PinnedObjectMaps::adopt(bpf_object* object, std::filesystem::path folder) {
  PinnedObjectMaps pins;
  pins.object_ = object;
  pins.folder_ = std::move(folder);
  return pins;
}

PinnedObjectMaps& PinnedObjectMaps::operator=(PinnedObjectMaps&& o) noexcept {
  if (this != &o) {
    reset();
    object_ = std::exchange(o.object_, nullptr);
    folder_ = std::exchange(o.folder_, {});
  }
  return *this;
}

void PinnedObjectMaps::reset() noexcept {
  if (!object_) return;
  if (int err = bpf_object__unpin_maps(object_, folder_.c_str()); err)
    spdlog::warn("unpin maps in {}: {}", folder_.string(), std::strerror(-err));
  object_ = nullptr;
}

EmptyFolderRemover& EmptyFolderRemover::operator=(EmptyFolderRemover&& o) noexcept {
  if (this != &o) {
    reset();
    folder_ = std::exchange(o.folder_, {});
  }
  return *this;
}

void EmptyFolderRemover::reset() noexcept {
  if (folder_.empty()) return;
  std::error_code ec;
  std::filesystem::remove(folder_, ec);  // fails (and stays) if not empty: not ours to empty
  folder_.clear();
}

}  // namespace wsteer::datapath
