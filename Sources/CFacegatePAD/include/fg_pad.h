/*
 * facegate's boundary to OpenCV's dnn module, which runs the presentation-attack
 * texture models: plain C, no C++ exception ever crosses it.
 *
 * Conventions as fg_dlib.h: an opaque handle with _new/_free, 0 on success and
 * -1 on failure with the caller's fg_pad_error filled. Pointers are borrowed for
 * the call only.
 */
#ifndef FG_PAD_H
#define FG_PAD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fg_pad_error {
    char message[256];
} fg_pad_error;

typedef struct fg_pad_net fg_pad_net;

/*
 * Loads an ONNX classifier that takes a 1x3xSIZExSIZE BGR float tensor of 0-255
 * values. Returns NULL and fills err on failure. A net is not safe for
 * concurrent use.
 */
fg_pad_net *fg_pad_net_new(const char *onnx_path, int input_size, fg_pad_error *err);

void fg_pad_net_free(fg_pad_net *net);

/*
 * Crops the pixels [left, right] x [top, bottom] (inclusive, inside the image)
 * of a packed RGB image, resizes the crop bilinearly to the net's input size and
 * runs the net. Writes its outputs to out, which must be exactly out_count of
 * them (another count is an error). Returns 0, or -1.
 */
int fg_pad_net_classify(fg_pad_net *net, const uint8_t *rgb, int width, int height, int left, int top, int right,
                        int bottom, float *out, int out_count, fg_pad_error *err);

#ifdef __cplusplus
}
#endif

#endif
