// Small owners of kernel state that a descriptor alone does not undo: an sk_skb verdict attached to
// a sockmap, maps pinned in bpffs, a folder we created. Each undoes itself on destruction (and on
// move-assignment over it), so a datapath that holds them as members is cleaned up in reverse
// order whether its constructor finishes or throws.
#pragma once

#include <filesystem>
#include <utility>

struct bpf_object;  // libbpf

namespace wsteer::datapath {

// bpf_prog_attach(prog, map, type): detached with bpf_prog_detach2 on destruction. Borrows both
// descriptors (the skeleton owns them and must outlive this).
class VerdictAttachment {
 public:
  VerdictAttachment() = default;
  // Attaches; throws std::system_error naming `what` if the kernel refuses.
  VerdictAttachment(int prog_fd, int map_fd, int attach_type, const char* what);
  VerdictAttachment(VerdictAttachment&& o) noexcept { *this = std::move(o); }
  VerdictAttachment& operator=(VerdictAttachment&& o) noexcept;
  ~VerdictAttachment() { reset(); }
  explicit operator bool() const { return prog_fd_ >= 0; }
  void reset() noexcept;  // detaches now (logs, never throws, if the kernel refuses)
  // Hand-off: an attachment made earlier (and not owned until now), detached on destruction.
  static VerdictAttachment assume(int prog_fd, int map_fd, int attach_type) {
    VerdictAttachment a;
    a.prog_fd_ = prog_fd;
    a.map_fd_ = map_fd;
    a.type_ = attach_type;
    return a;
  }
  // Hand-off: a successor took over the map; forget the attachment without undoing it.
  void release() noexcept { prog_fd_ = map_fd_ = -1; }

 private:
  int prog_fd_ = -1;
  int map_fd_ = -1;
  int type_ = 0;
};

// bpf_object__pin_maps(object, folder): bpf_object__unpin_maps on destruction. The object must
// outlive this.
class PinnedObjectMaps {
 public:
  PinnedObjectMaps() = default;
  // Pins; throws std::system_error if any map cannot be pinned (libbpf unpins the ones it did).
  PinnedObjectMaps(bpf_object* object, std::filesystem::path folder);
  PinnedObjectMaps(PinnedObjectMaps&& o) noexcept { *this = std::move(o); }
  PinnedObjectMaps& operator=(PinnedObjectMaps&& o) noexcept;
  ~PinnedObjectMaps() { reset(); }
  // Hand-off: the maps were pinned by a predecessor and reused (bpf_map__reuse_fd): pins nothing,
  // but unpins them like its own on destruction, since this agent owns them now.
  static PinnedObjectMaps adopt(bpf_object* object, std::filesystem::path folder);
  void reset() noexcept;
  // Hand-off: a successor owns the pins now; forget them without unpinning.
  void release() noexcept { object_ = nullptr; }

 private:
  bpf_object* object_ = nullptr;
  std::filesystem::path folder_;
};

// Removes a folder on destruction if it is empty then (never its contents: what is left in it is
// not ours, e.g. the XDP guard's xdp/ subfolder).
class EmptyFolderRemover {
 public:
  EmptyFolderRemover() = default;
  explicit EmptyFolderRemover(std::filesystem::path folder) : folder_(std::move(folder)) {}
  EmptyFolderRemover(EmptyFolderRemover&& o) noexcept : folder_(std::exchange(o.folder_, {})) {}
  EmptyFolderRemover& operator=(EmptyFolderRemover&& o) noexcept;
  ~EmptyFolderRemover() { reset(); }
  void reset() noexcept;
  void release() noexcept { folder_.clear(); }  // hand-off: the folder is the successor's

 private:
  std::filesystem::path folder_;
};

}  // namespace wsteer::datapath
