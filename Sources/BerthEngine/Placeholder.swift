// BerthEngine
