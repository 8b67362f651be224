#include "infer/nhwc_ops.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "infer/ops/spatial.h"

namespace canopy::infer {

namespace {

bool all_nhwc(const std::vector<TensorInfo>& infos) {
  for (const auto& info : infos)
    if (info.present && (info.shape.size() != 4 || info.layout != Layout::kNhwc)) return false;
  return true;
}

std::int64_t channel_axis(const Node& node, std::int64_t rank) {
  std::int64_t axis = node.attributes.get_int("axis", node.op_type == "Split" ? 0 : 1);
  return axis < 0 ? axis + rank : axis;
}

// Concat or Split along channels: in NHWC each pixel holds the channel
// blocks of the parts one after another.
class ChannelBlocks final : public Kernel {
 public:
  ChannelBlocks(bool concat, std::string_view backend) : concat_(concat), backend_(backend) {}
  Status run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    const Tensor& whole = concat_ ? *outputs[0] : *inputs[0];
    const size_t bytes = element_size(whole.dtype());
    const std::int64_t pixels = whole.dim(0) * whole.dim(2) * whole.dim(3);
    const size_t whole_row = static_cast<size_t>(whole.dim(1)) * bytes;
    auto* whole_data = static_cast<unsigned char*>(const_cast<void*>(whole.raw()));
    size_t offset = 0;
    const size_t parts = concat_ ? inputs.size() : outputs.size();
    for (size_t p = 0; p < parts; ++p) {
      const Tensor* part = concat_ ? inputs[p] : outputs[p];
      if (part == nullptr) continue;
      const size_t part_row = static_cast<size_t>(part->dim(1)) * bytes;
      auto* part_data = static_cast<unsigned char*>(const_cast<void*>(part->raw()));
      for (std::int64_t i = 0; i < pixels; ++i) {
        unsigned char* w = whole_data + static_cast<size_t>(i) * whole_row + offset;
        unsigned char* q = part_data + static_cast<size_t>(i) * part_row;
        if (concat_) std::memcpy(w, q, part_row);
        else std::memcpy(q, w, part_row);
      }
      offset += part_row;
    }
    return {};
  }
  std::string_view backend() const override { return backend_; }

 private:
  bool concat_;
  std::string_view backend_;
};

// MaxPool over NHWC float32: the channel loop is innermost and contiguous.
class MaxPoolNhwc final : public Kernel {
 public:
  MaxPoolNhwc(Window2d window, std::string_view backend) : w_(window), backend_(backend) {}
  Status run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    const Tensor& x = *inputs[0];
    Tensor& y = *outputs[0];
    const std::int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), OH = y.dim(2), OW = y.dim(3);
    const float* in = x.data<float>();
    float* out = y.data<float>();
    for (std::int64_t n = 0; n < N; ++n) {
      for (std::int64_t oh = 0; oh < OH; ++oh) {
        for (std::int64_t ow = 0; ow < OW; ++ow) {
          float* o = out + ((n * OH + oh) * OW + ow) * C;
          std::fill(o, o + C, -std::numeric_limits<float>::infinity());
          for (std::int64_t kh = 0; kh < w_.kernel[0]; ++kh) {
            const std::int64_t ih = oh * w_.stride[0] - w_.pad_begin[0] + kh * w_.dilation[0];
            if (ih < 0 || ih >= H) continue;
            for (std::int64_t kw = 0; kw < w_.kernel[1]; ++kw) {
              const std::int64_t iw = ow * w_.stride[1] - w_.pad_begin[1] + kw * w_.dilation[1];
              if (iw < 0 || iw >= W) continue;
              const float* i = in + ((n * H + ih) * W + iw) * C;
              for (std::int64_t c = 0; c < C; ++c) o[c] = std::max(o[c], i[c]);
            }
          }
        }
      }
    }
    return {};
  }
  std::string_view backend() const override { return backend_; }

 private:
  Window2d w_;
  std::string_view backend_;
};

}  // namespace

std::unique_ptr<Kernel> make_nhwc_kernel(const Node& node, const std::vector<TensorInfo>& inputs,
                                         const std::vector<TensorInfo>& outputs, std::string_view backend) {
  if (node.op_type == "Concat" || node.op_type == "Split") {
    const bool concat = node.op_type == "Concat";
    // Split's optional second input (sizes) is a constant the shapes already reflect.
    std::vector<TensorInfo> data = concat ? inputs : std::vector<TensorInfo>{inputs[0]};
    if (!all_nhwc(data) || channel_axis(node, 4) != 1) return nullptr;
    return std::make_unique<ChannelBlocks>(concat, backend);
  }
  if (node.op_type == "MaxPool") {
    if (!all_nhwc({inputs[0]}) || inputs[0].dtype != DataType::kFloat32) return nullptr;
    if (node.outputs.size() > 1 && node.outputs[1] >= 0) return nullptr;
    auto kernel = node.attributes.get_ints("kernel_shape");
    if (kernel.size() != 2) return nullptr;
    auto window = forward_window(node, inputs[0].shape[2], inputs[0].shape[3], {kernel[0], kernel[1]},
                                 node.attributes.get_int("ceil_mode", 0) != 0);
    if (!window.ok()) return nullptr;
    return std::make_unique<MaxPoolNhwc>(*window, backend);
  }
  (void)outputs;
  return nullptr;
}

}  // namespace canopy::infer
