/*
 * facegate's boundary to dlib: plain C, no C++ exception ever crosses it.
 *
 * Conventions (as libgpiod's): opaque handles with _new/_free, functions
 * return a count or 0 on success and -1 on failure, and on failure fill the
 * caller's fg_error with a message. Pointers are borrowed for the call only.
 */
#ifndef FG_DLIB_H
#define FG_DLIB_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FG_DESCRIPTOR_DIMENSION 128
#define FG_LANDMARK_COUNT 5

typedef struct fg_error {
    char message[256];
} fg_error;

typedef struct fg_detection {
    double left, top, right, bottom;
    /* HOG detector confidence; real faces score above about 0.5. */
    double score;
} fg_detection;

typedef struct fg_point {
    double x, y;
} fg_point;

typedef struct fg_face_engine fg_face_engine;

/*
 * Loads dlib's frontal face detector, the 5-point landmark model at
 * landmarks_path and, when descriptor_path is not NULL, the ResNet descriptor
 * model. Returns NULL and fills err on failure. The caller frees the engine
 * with fg_face_engine_free. An engine is not safe for concurrent use.
 */
fg_face_engine *fg_face_engine_new(const char *landmarks_path, const char *descriptor_path, fg_error *err);

void fg_face_engine_free(fg_face_engine *engine);

/* 1 when the engine loaded a descriptor model, else 0. */
int fg_face_engine_has_descriptor(const fg_face_engine *engine);

/*
 * Runs the HOG detector on an 8-bit gray image (rows packed). Detections
 * scoring at least min_score are written to out (best first), at most
 * max_out of them. Returns how many were written, or -1.
 */
int fg_detect_faces(fg_face_engine *engine, const uint8_t *gray, int width, int height, double min_score,
                    fg_detection *out, int max_out, fg_error *err);

/*
 * Finds the 5 landmarks of the face in box on an 8-bit gray image and writes
 * them to out in dlib's order (right eye outer, right eye inner, left eye
 * outer, left eye inner, nose base). Returns 0, or -1.
 */
int fg_face_landmarks(fg_face_engine *engine, const uint8_t *gray, int width, int height, fg_detection box,
                      fg_point out[FG_LANDMARK_COUNT], fg_error *err);

/*
 * Computes the 128-D descriptor of the face with the given box and landmarks
 * on an RGB image (3 bytes a pixel, rows packed): the face is aligned to a
 * 150x150 chip from the 5 landmarks first. Returns 0, or -1.
 */
int fg_face_descriptor(fg_face_engine *engine, const uint8_t *rgb, int width, int height, fg_detection box,
                       const fg_point landmarks[FG_LANDMARK_COUNT], float out[FG_DESCRIPTOR_DIMENSION],
                       fg_error *err);

/*
 * Resizes an 8-bit (channels = 1) or RGB (channels = 3) image, bilinear.
 * Returns 0, or -1.
 */
int fg_resize_image(const uint8_t *src, int src_width, int src_height, int channels, uint8_t *dst, int dst_width,
                    int dst_height, fg_error *err);

#ifdef __cplusplus
}
#endif

#endif
