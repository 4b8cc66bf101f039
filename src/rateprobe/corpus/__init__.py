"""Speech corpora in the LibriSpeech layout: reading, downloading, splitting, synthesising,
and the tempo variants of test utterances."""
