/** Result codes of the channels module. */
export type ChannelsErrorCode =
  | 'invalid_channel_account'
  | 'channel_account_exists_with_different_fields'
  | 'channel_account_not_found'
  | 'invalid_channel_config'
  | 'invalid_routing_rule'
  | 'routing_rule_not_found'
  | 'merchant_not_found'
  | 'unsupported_method';
