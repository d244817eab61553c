# frozen_string_literal: true

require_relative '../../puppet_x/monitoring_portal/type_helpers'

Puppet::Type.newtype(:monitoring_command) do
  @doc = <<~DOC
    A check or notification command in the monitoring portal (staff tokens). A notification
    command names its `channel` (email, sms, ...), which notification rules match on. Its alias
    is `command_alias` (`alias` is a Puppet metaparameter).

        monitoring_command { 'check-pgsql':
          command_line   => '$USER1$/check_pgsql -H $HOSTADDRESS$ -P $ARG1$',
        }
  DOC

  ensurable do
    desc 'present or absent (refused while something uses it).'
    defaultvalues
    defaultto :present
  end

  newparam(:name, namevar: true) do
    desc "The command's name in Naemon."
    validate { |value| raise ArgumentError, 'the name must not be empty' if value.to_s.empty? }
  end

  PuppetX::MonitoringPortal::TypeHelpers.connection_parameters(self)
  PuppetX::MonitoringPortal::TypeHelpers.string(self, :command_alias, 'A longer display name.')
  PuppetX::MonitoringPortal::TypeHelpers.string(self, :command_line, 'The command line, with Naemon macros.')
  PuppetX::MonitoringPortal::TypeHelpers.string(
    self, :channel, "For notification commands: the channel rules match on ('' for a check command)."
  )
  PuppetX::MonitoringPortal::TypeHelpers.set(
    self, :free_form_args, 'Numbers of the $ARGn$ whose values split into words at spaces'
  )
end
