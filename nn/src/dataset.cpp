#include "tapegrad/nn/dataset.hpp"
