"""The regulator's vocabulary: column contracts, register vocabularies and risk bands, and the
regulator-facing factors the explanations speak in. No pandas work happens here."""
