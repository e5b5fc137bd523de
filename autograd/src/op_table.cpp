// The op table, generated from the one list in op_list.hpp.
#include <array>

#include "tape.hpp"

namespace tapegrad {

#define TAPEGRAD_DECLARE_BACKWARD(name) void backward_##name(BackwardContext&);
TAPEGRAD_OPS(TAPEGRAD_DECLARE_BACKWARD)
#undef TAPEGRAD_DECLARE_BACKWARD

namespace {
struct OpInfo {
  std::string_view name;
  BackwardFn backward;
};

#define TAPEGRAD_TABLE_ENTRY(name) OpInfo{#name, &backward_##name},
const OpInfo kOps[] = {OpInfo{"leaf", nullptr}, TAPEGRAD_OPS(TAPEGRAD_TABLE_ENTRY)};
#undef TAPEGRAD_TABLE_ENTRY

#define TAPEGRAD_KIND_ENTRY(name) OpKind::name,
constexpr OpKind kAllOps[] = {TAPEGRAD_OPS(TAPEGRAD_KIND_ENTRY)};
#undef TAPEGRAD_KIND_ENTRY
}  // namespace

std::string_view op_name(OpKind op) { return kOps[static_cast<size_t>(op)].name; }
std::span<const OpKind> all_ops() { return kAllOps; }
BackwardFn backward_rule(OpKind op) { return kOps[static_cast<size_t>(op)].backward; }

}  // namespace tapegrad
