"""The regulator's vocabulary: column contracts, register vocabularies and risk bands, the
regulator-facing factors the explanations speak in, and names as files write them matched to the
names it knows. No pandas work happens here."""
