// Umbrella header for tapegrad's autograd: tensors, ops, the tape and grad().
#pragma once

#include "tapegrad/autograd/dtype.hpp"
#include "tapegrad/autograd/error.hpp"
#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/autograd/op_list.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/random.hpp"
#include "tapegrad/autograd/shape.hpp"
#include "tapegrad/autograd/tensor.hpp"
#include "tapegrad/autograd/threads.hpp"
