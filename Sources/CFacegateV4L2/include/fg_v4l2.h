#ifndef FG_V4L2_H
#define FG_V4L2_H

/* The V4L2 and libv4l2 calls Swift cannot reach directly: the VIDIOC_* request
 * codes are function-like macros, and v4l2_ioctl is variadic. Errors follow
 * the C convention: -1 (or MAP_FAILED) with errno set; EINTR is retried by the
 * Swift caller, not here. */

#include <stddef.h>
#include <stdint.h>
#include <linux/videodev2.h>

/* Opens a device through libv4l2 (format conversion, mmap emulation), non-blocking. */
int fg_v4l2_open(const char *_Nonnull path);
int fg_v4l2_close(int fd);
int fg_v4l2_ioctl(int fd, unsigned long request, void *_Nullable argument);
/* Returns MAP_FAILED ((void *)-1) on failure. */
void *_Nullable fg_v4l2_mmap(int fd, size_t length, int64_t offset);
int fg_v4l2_munmap(void *_Nonnull start, size_t length);
/* Plain write(2) to a device opened without libv4l2 (a v4l2loopback output). */
long fg_v4l2_write(int fd, const void *_Nonnull data, size_t length);

static inline unsigned long fg_vidioc_querycap(void) { return VIDIOC_QUERYCAP; }
static inline unsigned long fg_vidioc_enum_fmt(void) { return VIDIOC_ENUM_FMT; }
static inline unsigned long fg_vidioc_enum_framesizes(void) { return VIDIOC_ENUM_FRAMESIZES; }
static inline unsigned long fg_vidioc_enum_frameintervals(void) { return VIDIOC_ENUM_FRAMEINTERVALS; }
static inline unsigned long fg_vidioc_g_fmt(void) { return VIDIOC_G_FMT; }
static inline unsigned long fg_vidioc_s_fmt(void) { return VIDIOC_S_FMT; }
static inline unsigned long fg_vidioc_g_parm(void) { return VIDIOC_G_PARM; }
static inline unsigned long fg_vidioc_s_parm(void) { return VIDIOC_S_PARM; }
static inline unsigned long fg_vidioc_reqbufs(void) { return VIDIOC_REQBUFS; }
static inline unsigned long fg_vidioc_querybuf(void) { return VIDIOC_QUERYBUF; }
static inline unsigned long fg_vidioc_qbuf(void) { return VIDIOC_QBUF; }
static inline unsigned long fg_vidioc_dqbuf(void) { return VIDIOC_DQBUF; }
static inline unsigned long fg_vidioc_streamon(void) { return VIDIOC_STREAMON; }
static inline unsigned long fg_vidioc_streamoff(void) { return VIDIOC_STREAMOFF; }

#endif
