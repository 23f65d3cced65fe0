/* general.file_type: ggml's LLAMA_FTYPE values. */
#include "internal.h"

bool llorch_ftype_from_dtype(llorch_dtype t, llorch_ftype *out)
{
	switch (t) {
	case LLORCH_DT_F32: *out = LLORCH_FTYPE_ALL_F32; return true;
	case LLORCH_DT_F16: *out = LLORCH_FTYPE_MOSTLY_F16; return true;
	case LLORCH_DT_BF16: *out = LLORCH_FTYPE_MOSTLY_BF16; return true;
	case LLORCH_DT_Q8_0: *out = LLORCH_FTYPE_MOSTLY_Q8_0; return true;
	case LLORCH_DT_Q4_0: *out = LLORCH_FTYPE_MOSTLY_Q4_0; return true;
	default: return false;
	}
}

const char *llorch_ftype_name(int64_t ftype)
{
	/* llama.h's llama_ftype, including the types we only name. */
	static const struct {
		int64_t id;
		const char *name;
	} names[] = {
		{0, "ALL_F32"}, {1, "MOSTLY_F16"}, {2, "MOSTLY_Q4_0"}, {3, "MOSTLY_Q4_1"},
		{7, "MOSTLY_Q8_0"}, {8, "MOSTLY_Q5_0"}, {9, "MOSTLY_Q5_1"}, {10, "MOSTLY_Q2_K"},
		{11, "MOSTLY_Q3_K_S"}, {12, "MOSTLY_Q3_K_M"}, {13, "MOSTLY_Q3_K_L"},
		{14, "MOSTLY_Q4_K_S"}, {15, "MOSTLY_Q4_K_M"}, {16, "MOSTLY_Q5_K_S"},
		{17, "MOSTLY_Q5_K_M"}, {18, "MOSTLY_Q6_K"}, {32, "MOSTLY_BF16"},
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].id == ftype)
			return names[i].name;
	return NULL;
}
