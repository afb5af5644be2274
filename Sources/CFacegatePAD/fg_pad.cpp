// OpenCV 4.6 (Debian bookworm) runs the ONNX texture models; see fg_pad.h for the contract.
#include "fg_pad.h"

#include <cstdio>
#include <exception>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

struct fg_pad_net {
    cv::dnn::Net net;
    int input_size;
};

static void fail(fg_pad_error *err, const char *what, const char *detail) {
    if (err == nullptr) return;
    std::snprintf(err->message, sizeof err->message, "%s: %s", what, detail);
}

extern "C" fg_pad_net *fg_pad_net_new(const char *onnx_path, int input_size, fg_pad_error *err) {
    if (onnx_path == nullptr || input_size <= 0) {
        fail(err, "texture model", "no model path or input size");
        return nullptr;
    }
    try {
        // One thread: a door box runs the models on a few crops per visit, beside dlib; OpenCV's
        // own pool would only spin against the frame path.
        cv::setNumThreads(1);
        cv::dnn::Net net = cv::dnn::readNetFromONNX(onnx_path);
        if (net.empty()) {
            fail(err, "texture model", "the ONNX file holds no network");
            return nullptr;
        }
        net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        return new fg_pad_net{net, input_size};
    } catch (const cv::Exception &e) {
        // OpenCV's message names the file and the parser's complaint; keep the first line.
        std::string message = e.what();
        message = message.substr(0, message.find('\n'));
        fail(err, "texture model cannot be read", message.c_str());
    } catch (const std::exception &e) {
        fail(err, "texture model cannot be read", e.what());
    }
    return nullptr;
}

extern "C" void fg_pad_net_free(fg_pad_net *net) { delete net; }

extern "C" int fg_pad_net_classify(fg_pad_net *net, const uint8_t *rgb, int width, int height, int left, int top,
                                   int right, int bottom, float *out, int out_count, fg_pad_error *err) {
    if (net == nullptr || rgb == nullptr || out == nullptr || width <= 0 || height <= 0) {
        fail(err, "texture model", "no image");
        return -1;
    }
    if (left < 0 || top < 0 || right >= width || bottom >= height || right < left || bottom < top) {
        fail(err, "texture model", "the crop is not inside the image");
        return -1;
    }
    try {
        const cv::Mat image(height, width, CV_8UC3, const_cast<uint8_t *>(rgb));
        const cv::Mat crop = image(cv::Rect(left, top, right - left + 1, bottom - top + 1));
        cv::Mat resized;
        cv::resize(crop, resized, cv::Size(net->input_size, net->input_size), 0, 0, cv::INTER_LINEAR);
        // RGB in, BGR 0-255 to the net (swapRB), no scaling and no mean: the models' training input.
        const cv::Mat blob = cv::dnn::blobFromImage(resized, 1.0, cv::Size(), cv::Scalar(), true, false, CV_32F);
        net->net.setInput(blob);
        const cv::Mat result = net->net.forward();
        // Exactly the expected count: a net with another class layout (a 4-class softmax) would
        // otherwise have its first outputs read as the classes they are not.
        if (result.type() != CV_32F) {
            fail(err, "texture model", "the network's outputs are not 32-bit floats");
            return -1;
        }
        if (out_count <= 0 || result.total() != static_cast<size_t>(out_count)) {
            char detail[128];
            std::snprintf(detail, sizeof detail, "the network gave %zu outputs, expected %d", static_cast<size_t>(result.total()),
                          out_count);
            fail(err, "texture model", detail);
            return -1;
        }
        const float *values = result.ptr<float>();
        for (int i = 0; i < out_count; i++) out[i] = values[i];
        return 0;
    } catch (const cv::Exception &e) {
        std::string message = e.what();
        message = message.substr(0, message.find('\n'));
        fail(err, "texture model failed", message.c_str());
    } catch (const std::exception &e) {
        fail(err, "texture model failed", e.what());
    }
    return -1;
}
