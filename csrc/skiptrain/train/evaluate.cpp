// Test-set evaluation.
#include "skiptrain/train/evaluate.h"

#include "skiptrain/data/stream.h"
#include "skiptrain/train/class_counts.h"
#include "skiptrain/train/memory_format.h"

#include <torch/torch.h>

#include <cmath>

namespace skiptrain::train {

Evaluation evaluate(nn::NetworkImpl& model, const data::Dataset& dataset, const data::DatasetInfo& info,
                    int64_t batch_size) {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  Evaluation result;
  // The model's device: the test images are decoded on the CPU, then moved in batches; and its
  // layout: a channels-last model gets channels-last batches (else each conv converts its input).
  const auto device = model.parameters().front().device();
  bool channels_last_model = false;
  for (const auto& p : model.parameters())
    if (p.dim() == 4) {
      channels_last_model = !p.is_contiguous() && p.is_contiguous(at::MemoryFormat::ChannelsLast);
      break;
    }
  double loss_sum = 0;
  int64_t correct = 0;
  // Per class (instances, correct), summed on the device and read once at the end.
  const int64_t classes = info.num_classes;
  auto class_instances = torch::zeros({classes}, torch::dtype(torch::kInt64).device(device));
  auto class_correct = torch::zeros_like(class_instances);
  for (int64_t start = 0; start < dataset.size(); start += batch_size) {
    const int64_t end = std::min(start + batch_size, dataset.size());
    auto images = data::normalize(dataset.images.slice(0, start, end), info).to(device);
    if (channels_last_model) images = channels_last(images);
    auto labels = dataset.labels.slice(0, start, end).to(device);
    auto logits = model.forward(images);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    const auto hit = logits.argmax(1).eq(labels);
    correct += hit.sum().item<int64_t>();
    count_per_class(class_instances, labels);
    class_correct.index_add_(0, labels, hit.to(torch::kInt64));
  }
  model.train(was_training);
  result.instances = dataset.size();
  result.correct = correct;
  result.loss_sum = loss_sum;
  const auto instances_cpu = class_instances.to(torch::kCPU), correct_cpu = class_correct.to(torch::kCPU);
  result.instances_by_class.assign(instances_cpu.data_ptr<int64_t>(), instances_cpu.data_ptr<int64_t>() + classes);
  result.correct_by_class.assign(correct_cpu.data_ptr<int64_t>(), correct_cpu.data_ptr<int64_t>() + classes);
  if (result.instances > 0) {
    result.accuracy = static_cast<double>(correct) / result.instances;
    result.loss = loss_sum / result.instances;
  }
  return result;
}

std::vector<double> Evaluation::accuracy_by_class() const {
  std::vector<double> accuracy;
  for (size_t c = 0; c < instances_by_class.size(); ++c)
    accuracy.push_back(instances_by_class[c] > 0 ? static_cast<double>(correct_by_class[c]) / instances_by_class[c]
                                                 : NAN);
  return accuracy;
}

}  // namespace skiptrain::train
