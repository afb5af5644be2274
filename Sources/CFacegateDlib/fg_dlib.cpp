// facegate's dlib shim. Every entry point catches every exception: a C++
// exception unwinding into Swift would abort the process.
#include "fg_dlib.h"

#include <dlib/dnn.h>
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <vector>

namespace {

// dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1), as
// published with the model: the layer definitions must match the file.
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual = dlib::add_prev1<block<N, BN, 1, dlib::tag1<SUBNET>>>;

template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual_down =
    dlib::add_prev2<dlib::avg_pool<2, 2, 2, 2, dlib::skip1<dlib::tag2<block<N, BN, 2, dlib::tag1<SUBNET>>>>>>;

template <int N, template <typename> class BN, int stride, typename SUBNET>
using block = BN<dlib::con<N, 3, 3, 1, 1, dlib::relu<BN<dlib::con<N, 3, 3, stride, stride, SUBNET>>>>>;

template <int N, typename SUBNET> using ares = dlib::relu<residual<block, N, dlib::affine, SUBNET>>;
template <int N, typename SUBNET> using ares_down = dlib::relu<residual_down<block, N, dlib::affine, SUBNET>>;

template <typename SUBNET> using alevel0 = ares_down<256, SUBNET>;
template <typename SUBNET> using alevel1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET> using alevel2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET> using alevel3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET> using alevel4 = ares<32, ares<32, ares<32, SUBNET>>>;

using descriptor_net = dlib::loss_metric<dlib::fc_no_bias<
    128, dlib::avg_pool_everything<alevel0<alevel1<alevel2<alevel3<alevel4<dlib::max_pool<
             3, 3, 2, 2, dlib::relu<dlib::affine<dlib::con<32, 7, 7, 2, 2, dlib::input_rgb_image_sized<150>>>>>>>>>>>>>;

void set_error(fg_error *err, const char *what) {
    if (err != nullptr) {
        std::snprintf(err->message, sizeof err->message, "%s", what);
    }
}

void copy_gray(const uint8_t *gray, int width, int height, dlib::array2d<unsigned char> &img) {
    img.set_size(height, width);
    for (long r = 0; r < height; ++r) {
        std::memcpy(&img[r][0], gray + static_cast<size_t>(r) * width, static_cast<size_t>(width));
    }
}

dlib::rectangle to_rect(const fg_detection &box) {
    return dlib::rectangle(static_cast<long>(box.left), static_cast<long>(box.top),
                           static_cast<long>(box.right) - 1, static_cast<long>(box.bottom) - 1);
}

bool valid_size(int width, int height, fg_error *err) {
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384) {
        set_error(err, "image size out of range");
        return false;
    }
    return true;
}

// OpenBLAS defaults to a thread per core whose idle spinning slows the HOG
// detector on a 2-core box; one thread gives the same descriptor in 16 ms.
// It reads OPENBLAS_NUM_THREADS only when loaded, so set it at run time too.
void limit_blas_threads() {
    using set_threads_fn = void (*)(int);
    if (auto set_threads = reinterpret_cast<set_threads_fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
        set_threads(1);
    }
}

}  // namespace

struct fg_face_engine {
    dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
    dlib::shape_predictor landmarks;
    std::unique_ptr<descriptor_net> descriptor;
};

extern "C" {

fg_face_engine *fg_face_engine_new(const char *landmarks_path, const char *descriptor_path, fg_error *err) {
    try {
        auto engine = std::make_unique<fg_face_engine>();
        if (landmarks_path == nullptr) {
            set_error(err, "no landmark model path");
            return nullptr;
        }
        dlib::deserialize(landmarks_path) >> engine->landmarks;
        if (engine->landmarks.num_parts() != FG_LANDMARK_COUNT) {
            set_error(err, "landmark model is not the 5-point model");
            return nullptr;
        }
        if (descriptor_path != nullptr) {
            limit_blas_threads();
            engine->descriptor = std::make_unique<descriptor_net>();
            dlib::deserialize(descriptor_path) >> *engine->descriptor;
        }
        return engine.release();
    } catch (const std::exception &e) {
        set_error(err, e.what());
    } catch (...) {
        set_error(err, "unknown error loading models");
    }
    return nullptr;
}

void fg_face_engine_free(fg_face_engine *engine) { delete engine; }

int fg_face_engine_has_descriptor(const fg_face_engine *engine) {
    return engine != nullptr && engine->descriptor != nullptr ? 1 : 0;
}

int fg_detect_faces(fg_face_engine *engine, const uint8_t *gray, int width, int height, double min_score,
                    fg_detection *out, int max_out, fg_error *err) {
    if (engine == nullptr || gray == nullptr || out == nullptr || max_out < 0) {
        set_error(err, "invalid argument");
        return -1;
    }
    if (!valid_size(width, height, err)) return -1;
    try {
        dlib::array2d<unsigned char> img;
        copy_gray(gray, width, height, img);
        std::vector<dlib::rect_detection> found;
        engine->detector(img, found, 0.0);
        std::sort(found.begin(), found.end(), [](const dlib::rect_detection &a, const dlib::rect_detection &b) {
            return a.detection_confidence > b.detection_confidence;
        });
        int count = 0;
        for (const auto &d : found) {
            if (count >= max_out || d.detection_confidence < min_score) break;
            out[count].left = static_cast<double>(d.rect.left());
            out[count].top = static_cast<double>(d.rect.top());
            out[count].right = static_cast<double>(d.rect.right() + 1);
            out[count].bottom = static_cast<double>(d.rect.bottom() + 1);
            out[count].score = d.detection_confidence;
            ++count;
        }
        return count;
    } catch (const std::exception &e) {
        set_error(err, e.what());
    } catch (...) {
        set_error(err, "unknown error in detection");
    }
    return -1;
}

int fg_face_landmarks(fg_face_engine *engine, const uint8_t *gray, int width, int height, fg_detection box,
                      fg_point out[FG_LANDMARK_COUNT], fg_error *err) {
    if (engine == nullptr || gray == nullptr || out == nullptr) {
        set_error(err, "invalid argument");
        return -1;
    }
    if (!valid_size(width, height, err)) return -1;
    try {
        dlib::array2d<unsigned char> img;
        copy_gray(gray, width, height, img);
        const dlib::full_object_detection shape = engine->landmarks(img, to_rect(box));
        if (shape.num_parts() != FG_LANDMARK_COUNT) {
            set_error(err, "landmark model returned the wrong number of points");
            return -1;
        }
        for (unsigned long i = 0; i < FG_LANDMARK_COUNT; ++i) {
            out[i].x = static_cast<double>(shape.part(i).x());
            out[i].y = static_cast<double>(shape.part(i).y());
        }
        return 0;
    } catch (const std::exception &e) {
        set_error(err, e.what());
    } catch (...) {
        set_error(err, "unknown error in landmarks");
    }
    return -1;
}

int fg_face_descriptor(fg_face_engine *engine, const uint8_t *rgb, int width, int height, fg_detection box,
                       const fg_point landmarks[FG_LANDMARK_COUNT], float out[FG_DESCRIPTOR_DIMENSION],
                       fg_error *err) {
    if (engine == nullptr || rgb == nullptr || landmarks == nullptr || out == nullptr) {
        set_error(err, "invalid argument");
        return -1;
    }
    if (engine->descriptor == nullptr) {
        set_error(err, "no descriptor model loaded");
        return -1;
    }
    if (!valid_size(width, height, err)) return -1;
    try {
        dlib::matrix<dlib::rgb_pixel> img(height, width);
        std::memcpy(&img(0, 0), rgb, static_cast<size_t>(width) * height * 3);
        std::vector<dlib::point> parts;
        parts.reserve(FG_LANDMARK_COUNT);
        for (int i = 0; i < FG_LANDMARK_COUNT; ++i) {
            parts.emplace_back(static_cast<long>(landmarks[i].x + 0.5), static_cast<long>(landmarks[i].y + 0.5));
        }
        const dlib::full_object_detection shape(to_rect(box), parts);
        dlib::matrix<dlib::rgb_pixel> chip;
        dlib::extract_image_chip(img, dlib::get_face_chip_details(shape, 150, 0.25), chip);
        const dlib::matrix<float, 0, 1> values = (*engine->descriptor)(chip);
        if (values.size() != FG_DESCRIPTOR_DIMENSION) {
            set_error(err, "descriptor model returned the wrong dimension");
            return -1;
        }
        for (long i = 0; i < FG_DESCRIPTOR_DIMENSION; ++i) out[i] = values(i);
        return 0;
    } catch (const std::exception &e) {
        set_error(err, e.what());
    } catch (...) {
        set_error(err, "unknown error in descriptor");
    }
    return -1;
}

int fg_resize_image(const uint8_t *src, int src_width, int src_height, int channels, uint8_t *dst, int dst_width,
                    int dst_height, fg_error *err) {
    if (src == nullptr || dst == nullptr || (channels != 1 && channels != 3)) {
        set_error(err, "invalid argument");
        return -1;
    }
    if (!valid_size(src_width, src_height, err) || !valid_size(dst_width, dst_height, err)) return -1;
    try {
        if (channels == 1) {
            dlib::array2d<unsigned char> in, outImg(dst_height, dst_width);
            copy_gray(src, src_width, src_height, in);
            dlib::resize_image(in, outImg, dlib::interpolate_bilinear());
            for (long r = 0; r < dst_height; ++r) {
                std::memcpy(dst + static_cast<size_t>(r) * dst_width, &outImg[r][0], static_cast<size_t>(dst_width));
            }
        } else {
            dlib::matrix<dlib::rgb_pixel> in(src_height, src_width), outImg(dst_height, dst_width);
            std::memcpy(&in(0, 0), src, static_cast<size_t>(src_width) * src_height * 3);
            dlib::resize_image(in, outImg, dlib::interpolate_bilinear());
            std::memcpy(dst, &outImg(0, 0), static_cast<size_t>(dst_width) * dst_height * 3);
        }
        return 0;
    } catch (const std::exception &e) {
        set_error(err, e.what());
    } catch (...) {
        set_error(err, "unknown error in resize");
    }
    return -1;
}

}  // extern "C"
